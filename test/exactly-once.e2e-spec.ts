import { randomUUID } from 'node:crypto';
import { CONSUMER_GROUPS, GROUP_TOPICS, TOPICS } from '@app/contracts';
import type { Producer } from 'kafkajs';
import { waitFor } from '../scripts/lib/wait';
import { serviceLogs, signalService, startService, stopService } from './support/chain-control';
import { queryTestDatabase } from './support/database';
import { freshUserId } from './support/http';
import { connectedProducer } from './support/kafka';
import { ORDER_INSTANCES, waitForSplit } from './support/ownership';
import { groupCaughtUp, readTopics } from './support/topic-reader';

interface Counts {
  /** order-created records per payment id of the run. */
  orders: Map<string, number>;
  /** email-sent records per order id of the run. */
  emails: Map<string, number>;
  seen: number;
}

/** Sends `count` payments of a run, spread over the partitions by user, in produce requests of 1000. */
async function sendBurst(producer: Producer, run: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${run}-${i}`);
  const firstUser = freshUserId();
  for (let start = 0; start < count; start += 1000) {
    await producer.send({
      topic: TOPICS.paymentSuccessful,
      messages: ids.slice(start, start + 1000).map((id, i) => {
        const user = firstUser + start + i;
        return { key: String(user), value: JSON.stringify({ payment_id: id, user_id: user, cart: [{ name: 'AirPods Pro', price: 249, quantity: 1 }], amount: 249, timestamp: 1 }) };
      }),
    });
  }
  return ids;
}

async function ordersMade(run: string, instance?: string): Promise<number> {
  const [{ count }] = await queryTestDatabase<{ count: string }>(
    `SELECT count(*) FROM orders.orders WHERE payment_id LIKE $1 AND ($2::text IS NULL OR instance_id = $2)`,
    [`${run}-%`, instance ?? null],
  );
  return Number(count);
}

/**
 * Waits until every payment of the run is an order and every order an email, and the groups have committed
 * all of it; then reads order-created and email-sent to their end, read_committed, counting the run's records.
 */
async function settleAndCount(run: string, payments: number): Promise<Counts> {
  await waitFor(async () => (await ordersMade(run)) === payments, { timeoutMs: 180_000, intervalMs: 500, what: `${payments} orders of the run` });
  await waitFor(async () => {
    const [{ count }] = await queryTestDatabase<{ count: string }>(
      `SELECT count(*) FROM email.emails e JOIN orders.orders o ON o.order_id = e.order_id WHERE o.payment_id LIKE $1 AND e.status = 'sent'`,
      [`${run}-%`],
    );
    return Number(count) === payments;
  }, { timeoutMs: 180_000, intervalMs: 500, what: `${payments} emails of the run` });
  await groupCaughtUp(CONSUMER_GROUPS.order, GROUP_TOPICS[CONSUMER_GROUPS.order]);
  await groupCaughtUp(CONSUMER_GROUPS.email, GROUP_TOPICS[CONSUMER_GROUPS.email]);

  const orders = new Map<string, number>();
  const orderIds = new Set<string>();
  const emails = new Map<string, number>();
  const created: Array<{ payment_id: string; order_id: string }> = [];
  const sent: Array<{ order_id: string }> = [];
  const seen = await readTopics([TOPICS.orderCreated, TOPICS.emailSent], (topic, message) => {
    const value = JSON.parse(String(message.value));
    if (topic === TOPICS.orderCreated) created.push(value);
    else sent.push(value);
  });
  for (const order of created.filter((o) => String(o.payment_id).startsWith(`${run}-`))) {
    orders.set(order.payment_id, (orders.get(order.payment_id) ?? 0) + 1);
    orderIds.add(order.order_id);
  }
  for (const email of sent.filter((e) => orderIds.has(e.order_id))) emails.set(email.order_id, (emails.get(email.order_id) ?? 0) + 1);
  return { orders, emails, seen };
}

function expectExactlyOnce(counts: Counts, payments: number): void {
  expect(counts.seen).toBeGreaterThanOrEqual(2 * payments);
  expect(counts.orders.size).toBe(payments);
  expect(counts.emails.size).toBe(payments);
  const doubled = (map: Map<string, number>) => [...map].filter(([, n]) => n !== 1);
  expect(doubled(counts.orders)).toEqual([]);
  expect(doubled(counts.emails)).toEqual([]);
}

describe('exactly once through the chain (read_committed)', () => {
  let producer: Producer;

  beforeAll(async () => {
    producer = await connectedProducer();
  });

  // Each test starts from three running instances, whatever the one before left.
  beforeEach(async () => {
    for (const label of ORDER_INSTANCES) await startService(label);
  });

  afterAll(async () => {
    await producer.disconnect();
    for (const label of ORDER_INSTANCES) await startService(label);
    await signalService('order-3', 'SIGCONT').catch(() => undefined);
  });

  it('gives every payment one order-created and one email-sent when an order instance is SIGKILLed mid-burst', async () => {
    const payments = 10_000;
    const run = `eos-kill-${randomUUID().slice(0, 8)}`;
    const victim = 'order-2';
    const owned = await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
    await sendBurst(producer, run, payments);

    // Killed while it works: it has made orders of this burst, and the burst is far from done.
    const before = await waitFor(async () => {
      const [mine, all] = [await ordersMade(run, '2'), await ordersMade(run)];
      return mine > 0 ? { mine, all } : undefined;
    }, { timeoutMs: 60_000, intervalMs: 20, what: `${victim} to be working on the burst` });
    const killed = await stopService(victim, 'SIGKILL');
    expect(killed.exit_signal).toBe('SIGKILL');
    expect(before.all).toBeLessThan(payments);

    const counts = await settleAndCount(run, payments);
    expectExactlyOnce(counts, payments);
    // The survivors took the victim's partition over and finished it.
    const [orphan] = owned.get(victim)!;
    const [{ count }] = await queryTestDatabase<{ count: string }>(
      `SELECT count(*) FROM orders.orders WHERE payment_id LIKE $1 AND source_partition = $2 AND instance_id <> '2'`,
      [`${run}-%`, orphan],
    );
    expect(Number(count)).toBeGreaterThan(0);

    await startService(victim);
    await waitForSplit(ORDER_INSTANCES, `${victim} to rejoin`);
  });

  it('fences an instance frozen past its session (a zombie): its late transaction is refused, nothing doubles', async () => {
    const payments = 3000;
    const run = `eos-zombie-${randomUUID().slice(0, 8)}`;
    const zombie = 'order-3';
    await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
    await sendBurst(producer, run, payments);
    await waitFor(async () => ((await ordersMade(run, '3')) > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 10, what: `${zombie} to be working on the burst` });
    await signalService(zombie, 'SIGSTOP');
    try {
      // Its session (10 s) runs out: the two others take its partition over and claim its transactional id.
      await waitForSplit(['order-1', 'order-2'], 'the two others to own all three partitions');
    } finally {
      await signalService(zombie, 'SIGCONT');
    }
    await waitForSplit(ORDER_INSTANCES, `${zombie} to rejoin after it thawed`);

    const counts = await settleAndCount(run, payments);
    expectExactlyOnce(counts, payments);
    // What it had in hand when it froze was refused, not committed late.
    expect((await serviceLogs(zombie)).some((line) => /transaction was fenced/.test(line))).toBe(true);
  });
});
