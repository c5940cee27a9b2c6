import { randomUUID } from 'node:crypto';
import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import type { Producer } from 'kafkajs';
import request from 'supertest';
import { ServiceProcess } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { serviceLogs, startService, startServices, stopService, stopServices } from './support/chain-control';
import { queryTestDatabase } from './support/database';
import { TEST_PORT_OFFSET, testServiceEnv } from './support/environment';
import { joinedGroup } from './support/http';
import { connectedProducer, withAdmin } from './support/kafka';
import { ORDER_INSTANCES, waitForSplit } from './support/ownership';

interface OrderRow {
  payment_id: string;
  instance_id: string;
  source_partition: number;
}

async function ordersFor(prefix: string): Promise<OrderRow[]> {
  return queryTestDatabase<OrderRow>(
    'SELECT payment_id, instance_id, source_partition FROM orders.orders WHERE payment_id LIKE $1',
    [`${prefix}%`],
  );
}

describe('order instances sharing order-service-group', () => {
  let producer: Producer;
  const run = randomUUID().slice(0, 8);
  const sent: string[] = [];

  /** Payments straight to one partition (or spread by key): ids carry the run, to find their orders. */
  async function sendPayments(label: string, count: number, partition?: number): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, i) => `scale-${run}-${label}-${i}`);
    await producer.send({
      topic: TOPICS.paymentSuccessful,
      messages: ids.map((id, i) => ({
        key: String(1000 + i),
        partition,
        value: JSON.stringify({ payment_id: id, user_id: 1000 + i, cart: [{ name: 'PlayStation 5', price: 499 }], amount: 499, timestamp: 1 }),
      })),
    });
    sent.push(...ids);
    return ids;
  }

  function allProcessed(ids: string[], what: string): Promise<OrderRow[]> {
    return waitFor(async () => {
      const rows = (await ordersFor(`scale-${run}-`)).filter((r) => ids.includes(r.payment_id));
      return rows.length === ids.length ? rows : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250, what });
  }

  beforeAll(async () => {
    producer = await connectedProducer();
  });
  // Each test starts from the three instances (a no-op for a running one): one that failed with an instance
  // stopped leaves nothing broken for the next.
  beforeEach(async () => {
    await startServices(ORDER_INSTANCES);
  });

  afterAll(async () => {
    await producer.disconnect();
    await startServices(ORDER_INSTANCES);
  });

  it('gives each partition to exactly one instance, and turns every payment into exactly one order', async () => {
    const owned = await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
    const owner = new Map([...owned].flatMap(([label, parts]) => parts.map((p) => [p, label.replace('order-', '')] as const)));

    const ids = await sendPayments('spread', 300);
    const rows = await allProcessed(ids, 'an order for each of 300 payments');
    expect(new Set(rows.map((r) => r.payment_id)).size).toBe(300);
    // Every order of a partition was made by that partition's owner, and all three instances worked.
    for (const row of rows) expect(row.instance_id).toBe(owner.get(row.source_partition));
    expect(new Set(rows.map((r) => r.instance_id)).size).toBe(3);
    for (const label of ORDER_INSTANCES) {
      expect((await serviceLogs(label)).some((line) => /\[Instance #\d\] joined order-service-group: assigned payment-successful\[\d\]/.test(line))).toBe(true);
    }
  });

  it.each([
    ['SIGTERM', 'order-2'],
    ['SIGKILL', 'order-3'],
  ] as const)('after %s of %s, the survivors take its partitions over and lose nothing', async (signal, victim) => {
    const before = await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
    const orphaned = before.get(victim)!;
    const stopped = await stopService(victim, signal);
    // SIGTERM: a graceful stop (consumer left, database closed) ends with exit code 0, not by the signal.
    expect({ code: stopped.exit_code, signal: stopped.exit_signal }).toEqual(signal === 'SIGKILL' ? { code: null, signal: 'SIGKILL' } : { code: 0, signal: null });

    // Payments sent after the stop, one batch on each orphaned partition and some everywhere.
    const probes = await Promise.all(orphaned.map((p) => sendPayments(`${signal}-p${p}`, 20, p)));
    const spread = await sendPayments(`${signal}-spread`, 60);
    const rows = await allProcessed([...probes.flat(), ...spread], `every payment sent after the ${signal}`);
    const takeoverSeconds = (Date.now() - stopped.stopped_at) / 1000;
    const survivors = ORDER_INSTANCES.filter((l) => l !== victim).map((l) => l.replace('order-', ''));
    for (const row of rows) expect(survivors).toContain(row.instance_id);
    await waitForSplit(ORDER_INSTANCES.filter((l) => l !== victim), 'the two survivors to own all three partitions');
    console.log(`takeover after ${signal}: orphaned partition(s) ${orphaned.join(',')} processing again within ${takeoverSeconds.toFixed(1)} s`);
    // Far above the benchmark's figures (0.6 s and 11 s; targets 3 s and 15 s), so a slow machine passes, but a
    // takeover that waits on something else (a rebalance timeout of 30 s, a stuck member) does not.
    expect(takeoverSeconds).toBeLessThan(signal === 'SIGKILL' ? 45 : 15);

    await startService(victim);
    await waitForSplit(ORDER_INSTANCES, `${victim} to rejoin and the three to split the partitions again`);
  });

  it('hands over nothing twice when an instance is stopped (SIGTERM) in the middle of a batch', async () => {
    const victim = 'order-1';
    const owned = await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
    const [partition] = owned.get(victim)!;
    const ids = await sendPayments('handover', 3000, partition);
    await waitFor(async () => (await ordersFor(`scale-${run}-handover-`)).length > 0, { timeoutMs: 30_000, intervalMs: 20, what: 'the first orders of the batch' });
    await stopService(victim, 'SIGTERM');

    // The survivors take the partition over from the offset the stopped instance committed as it left...
    const rows = await allProcessed(ids, 'all 3000 payments, before and after the stop');
    const byVictim = await queryTestDatabase<{ source_offset: string }>(
      `SELECT source_offset FROM orders.orders WHERE payment_id = ANY($1) AND instance_id = '1'`,
      [rows.map((r) => r.payment_id)],
    );
    // The stop came in the middle: the stopped instance had made some of the orders, the survivors the rest.
    expect(byVictim.length).toBeGreaterThan(0);
    expect(byVictim.length).toBeLessThan(ids.length);
    // Which records of the partition each survivor handled, from the lines it logs for each (JSON, with the
    // record's place): together with the stopped instance's, every record of the batch, and none twice.
    const first = BigInt(Math.min(...byVictim.map((o) => Number(o.source_offset))));
    const handledBy = async (label: string) =>
      (await serviceLogs(label))
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; partition?: number; offset?: string })
        .filter((l) => l.partition === partition && /^\[Instance #\d\] \[Partition \d+\] \[Offset \d+\] /.test(l.msg) && BigInt(l.offset!) >= first)
        .map((l) => l.offset!);
    const survivors = (await Promise.all(ORDER_INSTANCES.filter((l) => l !== victim).map(handledBy))).flat();
    expect(survivors.length).toBe(ids.length - byVictim.length);
    const handled = new Set(byVictim.map((o) => o.source_offset));
    expect(survivors.filter((offset) => handled.has(offset))).toEqual([]);
    expect(new Set([...handled, ...survivors]).size).toBe(ids.length);
    await startService(victim);
    await waitForSplit(ORDER_INSTANCES, `${victim} to rejoin`);
  });

  it('created exactly one order for every payment the suite sent', async () => {
    // The tests above sent 300 + 2 × (20 per orphaned partition + 60) + 3000 payments; alone, this test has
    // nothing to compare and fails rather than compare nothing with nothing.
    expect(sent.length).toBeGreaterThanOrEqual(300 + 2 * 80 + 3000);
    const rows = await ordersFor(`scale-${run}-`);
    expect(rows.map((r) => r.payment_id).sort()).toEqual([...sent].sort());
  });
});

describe("the course's slow step (PROCESSING_DELAY_MS, CONSUMER_ORDER=partition)", () => {
  const slow = { service: 'order' as const, label: 'order-slow', port: 8030 + TEST_PORT_OFFSET, env: { INSTANCE_ID: 'slow', PROCESSING_DELAY_MS: '12000' } };
  let instance: ServiceProcess | undefined;

  afterAll(async () => {
    await instance?.stop();
    await startServices(ORDER_INSTANCES);
  });

  it('heartbeats through the step and keeps its group membership', async () => {
    await stopServices(ORDER_INSTANCES);
    instance = ServiceProcess.start(slow, testServiceEnv());
    await instance.waitHealthy();
    await waitFor(async () => (await request(instance!.url).get('/health')).body.details?.kafka?.assignments?.[TOPICS.paymentSuccessful]?.length === 3,
      { timeoutMs: 30_000, what: 'the slow instance to own every partition' });

    // The group's one member, as the broker knows it: the same member id afterwards means it was never thrown
    // out and rejoined (a rejoin gets a new id).
    const members = () => withAdmin(async (admin) => (await admin.describeGroups([CONSUMER_GROUPS.order])).groups[0].members.map((m) => m.memberId));
    const [member] = await members();
    expect(await members()).toEqual([member]);

    const producer = await connectedProducer();
    const paymentId = `slow-${randomUUID()}`;
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key: '7', value: JSON.stringify({ payment_id: paymentId, user_id: 7, cart: [{ name: 'Apple Watch', price: 399 }], timestamp: 1 }) }] });
    await producer.disconnect();

    const [order] = await waitFor(async () => {
      const rows = await queryTestDatabase<{ instance_id: string }>('SELECT instance_id FROM orders.orders WHERE payment_id = $1', [paymentId]);
      return rows.length > 0 ? rows : undefined;
    }, { timeoutMs: 45_000, what: 'the slow order' });
    expect(order.instance_id).toBe('slow');
    // 12 s of work did not get the member thrown out (session timeout 10 s): still the one member, same id.
    expect(await members()).toEqual([member]);
  });

  it("handles one record at a time per partition, as the course's consumer does, whatever their keys", async () => {
    await instance?.stop();
    const course = { ...slow, label: 'order-course', env: { INSTANCE_ID: 'course', PROCESSING_DELAY_MS: '1000', CONSUMER_ORDER: 'partition' } };
    instance = ServiceProcess.start(course, testServiceEnv());
    await instance.waitHealthy();
    await joinedGroup(instance.url, 3);

    // Three customers on one partition: side by side, their three steps of 1 s would overlap.
    const run = randomUUID();
    const producer = await connectedProducer();
    await producer.send({
      topic: TOPICS.paymentSuccessful,
      acks: -1,
      messages: [1, 2, 3].map((i) => ({
        partition: 0,
        key: String(i),
        value: JSON.stringify({ payment_id: `course-${run}-${i}`, user_id: i, cart: [{ name: 'iPad Air', price: 599 }], timestamp: 1 }),
      })),
    });
    await producer.disconnect();

    const placed = await waitFor(async () => {
      const rows = await queryTestDatabase<{ payment_id: string; placed_ms: number }>(
        'SELECT payment_id, (extract(epoch FROM created_at) * 1000)::float8 AS placed_ms FROM orders.orders WHERE payment_id LIKE $1 ORDER BY created_at',
        [`course-${run}-%`],
      );
      return rows.length === 3 ? rows : undefined;
    }, { timeoutMs: 30_000, what: 'the three orders of the course mode' });
    // In offset order, each placed after the step of the one before it had ended.
    expect(placed.map((o) => o.payment_id)).toEqual([1, 2, 3].map((i) => `course-${run}-${i}`));
    for (let i = 1; i < placed.length; i++) expect(placed[i].placed_ms - placed[i - 1].placed_ms).toBeGreaterThanOrEqual(950);
  });
});
