import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ensureTopics } from '@app/kafka';
import { CONSUMER_GROUPS, GROUP_TOPICS, TOPICS } from '@app/contracts';
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import request from 'supertest';
import { waitFor } from '../../scripts/lib/wait';
import { toolKafka } from '../../scripts/lib/kafka-local';
import { clusterNodeLayout, clusterStateDir } from '../../scripts/lib/kafka-local/cluster';
import { pidOf } from '../../scripts/lib/kafka-local/lifecycle';
import { queryDatabase, recreateDatabase } from '../../scripts/lib/postgres';
import { REPO_ROOT, startServices, stopServices, type ServiceProcess, type ServiceSpec } from '../../scripts/lib/services';
import { TEST_PORT_OFFSET, testDatabaseUrl, testServiceEnv } from '../support/environment';
import { burstUnderWay, expectExactlyOnce, ordersMade, settleAndCount } from '../support/exactly-once';
import { groupCaughtUp } from '../support/topic-reader';
import { kafkaCli as runKafkaCli } from '../support/kafka-cli';

/**
 * A cluster of its own, beside the chain's broker: three KRaft nodes, each broker and controller, driven by the
 * same CLI users have; and a chain of its own on it (payment, three order instances, email) with a database of
 * its own. Nodes are SIGKILLed under it; nobody restarts a service.
 */
const NODES = ['127.0.0.1:19392', '127.0.0.1:19393', '127.0.0.1:19394'];
const STATE_DIR = '.kafka-cluster-test';
const cliEnv = { ...process.env, KAFKA_BROKERS: NODES.join(','), KAFKA_STATE_DIR: STATE_DIR };
const chain = { brokers: NODES, databaseUrl: testDatabaseUrl().replace(/_test$/, '_test_cluster') };
const serviceEnv = { KAFKA_BROKERS: NODES.join(','), DATABASE_URL: chain.databaseUrl };
const specs: ServiceSpec[] = [
  { service: 'payment', label: 'payment-cluster', port: 8060 + TEST_PORT_OFFSET, env: serviceEnv },
  ...[1, 2, 3].map((i) => ({ service: 'order' as const, label: `order-cluster-${i}`, port: 8060 + i + TEST_PORT_OFFSET, env: { ...serviceEnv, INSTANCE_ID: `cluster-${i}` } })),
  { service: 'email', label: 'email-cluster', port: 8064 + TEST_PORT_OFFSET, env: serviceEnv },
];

const kafkaCli = (...args: string[]) => runKafkaCli(cliEnv, args);

/** The running process of node `node`, from its pid file (the CLI's own check). */
function pidOfNode(node: number): number {
  const pid = pidOf(clusterNodeLayout(clusterStateDir(join(REPO_ROOT, STATE_DIR)), node));
  if (pid === undefined) throw new Error(`node ${node} of the test cluster is not running`);
  return pid;
}

const kafka = toolKafka('e2e-cluster', NODES);
let admin: Admin;
let services: ServiceProcess[] = [];
const paymentUrl = () => services[0].url;

async function partitionsOfChain() {
  const { topics } = await admin.fetchTopicMetadata({ topics: Object.values(TOPICS) });
  return topics.flatMap((t) => t.partitions);
}

async function underReplicated(): Promise<number> {
  return (await partitionsOfChain()).filter((p) => p.isr.length < p.replicas.length).length;
}

/** The node that leads the most partitions of the chain's topics (the lowest id among equals). */
async function busiestLeader(): Promise<number> {
  const led = new Map<number, number>();
  for (const p of await partitionsOfChain()) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
  return [...led].sort(([a, x], [b, y]) => y - x || a - b)[0][0];
}

function expectServicesUntouched(pids: Array<number | undefined>): void {
  expect(services.map((s) => [s.spec.label, s.running])).toEqual(specs.map((s) => [s.label, true]));
  expect(services.map((s) => s.child.pid)).toEqual(pids);
}

beforeAll(async () => {
  kafkaCli('down', '--purge');
  const up = kafkaCli('up', '--brokers', '3');
  expect(up).toMatchObject({ status: 0, stdout: expect.stringContaining('started node(s) 1, 2, 3') });
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, 3);
  await recreateDatabase(chain.databaseUrl);
  const logs = process.env.E2E_LOGS === '1' ? (label: string, line: string) => console.log(`[${label}] ${line}`) : undefined;
  services = await startServices(specs, testServiceEnv(), logs);
}, 300_000);

afterAll(async () => {
  await stopServices(services);
  await admin?.disconnect();
  kafkaCli('down', '--purge');
}, 120_000);

describe('the chain on three local nodes', () => {
  it('gives every topic three copies with two in sync, and status names each node and the active controller', async () => {
    const partitions = await partitionsOfChain();
    expect(partitions.map((p) => p.replicas.length)).toEqual(Array(9).fill(3));
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: TOPICS.paymentSuccessful, configNames: ['min.insync.replicas'] }],
    });
    expect(resources[0].configEntries).toEqual([expect.objectContaining({ configName: 'min.insync.replicas', configValue: '2' })]);

    const status = kafkaCli('status', '--brokers', '3');
    expect(status.status).toBe(0);
    const lines = status.stdout.split('\n').filter((l) => l.startsWith('node '));
    expect(lines).toHaveLength(3);
    for (const [i, line] of lines.entries()) expect(line).toContain(`node ${i + 1} at ${NODES[i]}: answering (pid ${pidOfNode(i + 1)}`);
    expect(lines.filter((l) => l.includes('active controller'))).toHaveLength(1);
    expect(status.stdout).toContain('no under-replicated partitions');
  });

  it('loses the node leading the most partitions mid-burst and still makes every payment exactly one order and one email; the node rejoins whole', async () => {
    const pids = services.map((s) => s.child.pid);
    const payments = 3000;
    const run = `cluster-${randomUUID().slice(0, 8)}`;
    const before = await burstUnderWay(chain, run, payments);
    const victim = await busiestLeader();
    process.kill(pidOfNode(victim), 'SIGKILL');
    expect(before).toBeLessThan(payments);

    const counts = await settleAndCount(chain, run, payments);
    expectExactlyOnce(counts, payments);
    // The survivors took over its partitions: some orders were made after it died, and no service was restarted.
    expect(await ordersMade(chain, run)).toBeGreaterThan(before);
    expectServicesUntouched(pids);
    const status = kafkaCli('status', '--brokers', '3');
    expect(status.stdout).toContain(`node ${victim} at ${NODES[victim - 1]}: not answering (no process)`);
    expect(status.stdout).toMatch(/\d+ under-replicated partition\(s\)/);

    const up = kafkaCli('up', '--brokers', '3');
    expect(up).toMatchObject({ status: 0, stdout: expect.stringContaining(`started node(s) ${victim})`) });
    await waitFor(async () => (await underReplicated()) === 0, { timeoutMs: 90_000, what: 'every partition to have its three copies in sync again' });
    expect(kafkaCli('status', '--brokers', '3').stdout).toContain('no under-replicated partitions');
  }, 420_000);

  it('answers POST /payment with 503 while two nodes are down, takes the payment once one is back, and it becomes one order and one email', async () => {
    const pids = services.map((s) => s.child.pid);
    const body = { user_id: 4242, cart: [{ name: 'MacBook', price: 1999, quantity: 1 }] };
    await request(paymentUrl()).post('/payment').send(body).expect(200);
    process.kill(pidOfNode(2), 'SIGKILL');
    process.kill(pidOfNode(3), 'SIGKILL');
    // One copy left: acks=all cannot be met, and with two controllers of three gone nothing can shrink the in-sync
    // set either. Nothing is acknowledged (waitFor goes on while payments are accepted). A refused send may still
    // sit in the last node's log, unacknowledged: the shop retries with the same Idempotency-Key, as the 503 says.
    const key = `cluster-${randomUUID()}`;
    const send = () => request(paymentUrl()).post('/payment').set('Idempotency-Key', key).send(body);
    let acknowledged = 0;
    const refused = await waitFor(async () => {
      const response = await send();
      if (response.status === 200) acknowledged += 1;
      return response.status === 200 ? undefined : response;
    }, { timeoutMs: 90_000, intervalMs: 100, what: 'a payment refused' });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ statusCode: 503, message: expect.stringMatching(/not accepted.*broker.*Idempotency-Key/i) });
    expect(acknowledged).toBe(0);

    expect(kafkaCli('up', '--brokers', '3')).toMatchObject({ status: 0, stdout: expect.stringContaining('started node(s) 2, 3)') });
    const accepted = await waitFor(async () => {
      const response = await send();
      return response.status === 200 ? (response.body.payment_id as string) : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500, what: 'the payment accepted again' });

    // One order and one email for it, however many times the refused sends reached the last node's log.
    const ordersAndEmails = async () => {
      const [row] = await queryDatabase<{ orders: string; emails: string; of_user: string }>(
        chain.databaseUrl,
        `SELECT (SELECT count(*) FROM orders.orders WHERE payment_id = $1) AS orders,
                (SELECT count(*) FROM email.emails e JOIN orders.orders o ON o.order_id = e.order_id WHERE o.payment_id = $1 AND e.status = 'sent') AS emails,
                (SELECT count(*) FROM orders.orders WHERE user_id = $2) AS of_user`,
        [accepted, body.user_id],
      );
      return { orders: Number(row.orders), emails: Number(row.emails), ofUser: Number(row.of_user) };
    };
    await waitFor(async () => (await ordersAndEmails()).emails > 0, { timeoutMs: 90_000, intervalMs: 250, what: 'the accepted payment to become an order and an email' });
    await groupCaughtUp(CONSUMER_GROUPS.email, GROUP_TOPICS[CONSUMER_GROUPS.email], NODES);
    expect(await ordersAndEmails()).toEqual({ orders: 1, emails: 1, ofUser: 2 });
    expectServicesUntouched(pids);
  }, 300_000);
});
