import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTopics } from '@app/kafka';
import { TOPICS } from '@app/contracts';
import { ConfigResourceTypes, Partitioners, type Admin, type Producer } from 'kafkajs';
import { waitFor } from '../scripts/lib/wait';
import { toolKafka } from '../scripts/lib/kafka-local';
import { clusterNodeLayout, clusterStateDir } from '../scripts/lib/kafka-local/cluster';
import { REPO_ROOT } from '../scripts/lib/services';

// A cluster of its own, beside the chain's broker: three KRaft nodes, each broker and controller.
const NODES = ['127.0.0.1:19392', '127.0.0.1:19393', '127.0.0.1:19394'];
const STATE_DIR = '.kafka-cluster-test';
const env = { ...process.env, KAFKA_BROKERS: NODES.join(','), KAFKA_STATE_DIR: STATE_DIR };

function kafkaCli(...args: string[]): { status: number | null; stdout: string } {
  const result = spawnSync('npx', ['tsx', 'scripts/kafka.ts', ...args], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 180_000 });
  return { status: result.status, stdout: `${result.stdout}${result.stderr}` };
}

function pidOf(node: number): number {
  return Number(readFileSync(clusterNodeLayout(clusterStateDir(join(REPO_ROOT, STATE_DIR)), node).pidFile, 'utf8'));
}

const kafka = toolKafka('e2e-cluster', NODES);
let admin: Admin;
let producer: Producer;

async function underReplicated(): Promise<number> {
  const { topics } = await admin.fetchTopicMetadata({ topics: Object.values(TOPICS) });
  return topics.flatMap((t) => t.partitions).filter((p) => p.isr.length < p.replicas.length).length;
}

/** A payment written with acks=all: the broker answers only once two of the three copies have it. */
function send(n: number) {
  return producer.send({ topic: TOPICS.paymentSuccessful, acks: -1, timeout: 5000, messages: [{ key: String(n), value: JSON.stringify({ n }) }] });
}

beforeAll(async () => {
  kafkaCli('down', '--purge');
  const up = kafkaCli('up', '--brokers', '3');
  expect(up).toMatchObject({ status: 0, stdout: expect.stringContaining('started node(s) 1, 2, 3') });
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, 3);
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 2 } });
  await producer.connect();
}, 240_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  kafkaCli('down', '--purge');
}, 120_000);

describe('three local nodes', () => {
  it('give every topic three copies with two in sync, and status names each node and the active controller', async () => {
    const { topics } = await admin.fetchTopicMetadata({ topics: Object.values(TOPICS) });
    expect(topics.flatMap((t) => t.partitions.map((p) => p.replicas.length))).toEqual(Array(9).fill(3));
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPICS.paymentSuccessful, configNames: ['min.insync.replicas'] }],
    });
    expect(resources[0].configEntries).toEqual([expect.objectContaining({ configName: 'min.insync.replicas', configValue: '2' })]);

    const status = kafkaCli('status', '--brokers', '3');
    expect(status.status).toBe(0);
    const lines = status.stdout.split('\n').filter((l) => l.startsWith('node '));
    expect(lines).toHaveLength(3);
    for (const [i, line] of lines.entries()) expect(line).toContain(`node ${i + 1} at ${NODES[i]}: answering (pid ${pidOf(i + 1)}`);
    expect(lines.filter((l) => l.includes('active controller'))).toHaveLength(1);
    expect(status.stdout).toContain('no under-replicated partitions');
  });

  it('keep taking payments when a node is SIGKILLed, report it, and take it back whole when it is started again', async () => {
    for (let n = 0; n < 20; n++) await send(n);
    process.kill(pidOf(3), 'SIGKILL');
    // The survivors drop it from the in-sync replicas (replica.lag.time.max.ms, 30 s by default).
    await waitFor(async () => (await underReplicated()) > 0, { timeoutMs: 60_000, what: 'the partitions to report a copy missing' });
    for (let n = 20; n < 40; n++) await send(n);
    const status = kafkaCli('status', '--brokers', '3');
    expect(status.stdout).toContain(`node 3 at ${NODES[2]}: not answering (no process)`);
    expect(status.stdout).toMatch(/\d+ under-replicated partition\(s\)/);

    const up = kafkaCli('up', '--brokers', '3');
    expect(up).toMatchObject({ status: 0, stdout: expect.stringContaining('started node(s) 3)') });
    await waitFor(async () => (await underReplicated()) === 0, { timeoutMs: 90_000, what: 'every partition to have its three copies in sync again' });
    const offsets = await admin.fetchTopicOffsets(TOPICS.paymentSuccessful);
    expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(40);
  }, 240_000);

  it('refuse a payment while two nodes are down, and take payments again once one is back', async () => {
    process.kill(pidOf(2), 'SIGKILL');
    process.kill(pidOf(3), 'SIGKILL');
    // One copy left: acks=all cannot be met, and with two controllers of three gone nothing can shrink the in-sync
    // set either. The broker refuses or times out; it never acknowledges (waitFor goes on while sends succeed).
    let acknowledged = 0;
    const refused = await waitFor(async () => send(100).then(() => void (acknowledged += 1), (error: Error) => error), { timeoutMs: 90_000, what: 'a payment refused' });
    expect(refused.name).toMatch(/^KafkaJS/);
    expect(acknowledged).toBe(0);
    expect(kafkaCli('up', '--brokers', '3')).toMatchObject({ status: 0, stdout: expect.stringContaining('started node(s) 2, 3)') });
    await waitFor(async () => send(101).then(() => true, () => false), { timeoutMs: 90_000, what: 'a payment accepted again' });
  }, 240_000);
});
