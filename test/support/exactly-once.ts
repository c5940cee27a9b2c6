import { CONSUMER_GROUPS, GROUP_TOPICS, TOPICS } from '@app/contracts';
import { Partitioners, type Producer } from 'kafkajs';
import { toolKafka } from '../../scripts/lib/kafka-local';
import { queryDatabase } from '../../scripts/lib/postgres';
import { waitFor } from '../../scripts/lib/wait';
import { testBrokers, testDatabaseUrl } from './environment';
import { freshUserId } from './http';
import { groupCaughtUp, readTopics } from './topic-reader';

/** Where a chain under test runs: its broker and its database. */
export interface ChainUnderTest {
  brokers: string[];
  databaseUrl: string;
}

/** The chain jest's global setup starts. */
export const mainChain = (): ChainUnderTest => ({ brokers: testBrokers(), databaseUrl: testDatabaseUrl() });

export interface Counts {
  /** order-created records per payment id of the run. */
  orders: Map<string, number>;
  /** email-sent records per order id of the run. */
  emails: Map<string, number>;
  seen: number;
}

/** Sends `count` payments of a run, spread over the partitions by user, in produce requests of 1000. */
export async function sendBurst(producer: Producer, run: string, count: number): Promise<string[]> {
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

/**
 * Sends a burst of `count` payments to the chain's broker and waits until it is under way: some orders of the run
 * made, how many answered. A fault injected then lands in the middle of the burst.
 */
export async function burstUnderWay(chain: ChainUnderTest, run: string, count: number): Promise<number> {
  const producer = toolKafka('e2e-burst', chain.brokers).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await sendBurst(producer, run, count);
  } finally {
    await producer.disconnect();
  }
  return waitFor(async () => {
    const made = await ordersMade(chain, run);
    return made > 0 ? made : undefined;
  }, { timeoutMs: 60_000, intervalMs: 20, what: 'the burst to be under way' });
}

export async function ordersMade(chain: ChainUnderTest, run: string, instance?: string): Promise<number> {
  const [{ count }] = await queryDatabase<{ count: string }>(
    chain.databaseUrl,
    `SELECT count(*) FROM orders.orders WHERE payment_id LIKE $1 AND ($2::text IS NULL OR instance_id = $2)`,
    [`${run}-%`, instance ?? null],
  );
  return Number(count);
}

/**
 * Waits until every payment of the run is an order and every order an email, and the groups have committed
 * all of it; then reads order-created and email-sent to their end, read_committed, counting the run's records.
 */
export async function settleAndCount(chain: ChainUnderTest, run: string, payments: number): Promise<Counts> {
  await waitFor(async () => (await ordersMade(chain, run)) === payments, { timeoutMs: 180_000, intervalMs: 500, what: `${payments} orders of the run` });
  await waitFor(async () => {
    const [{ count }] = await queryDatabase<{ count: string }>(
      chain.databaseUrl,
      `SELECT count(*) FROM email.emails e JOIN orders.orders o ON o.order_id = e.order_id WHERE o.payment_id LIKE $1 AND e.status = 'sent'`,
      [`${run}-%`],
    );
    return Number(count) === payments;
  }, { timeoutMs: 180_000, intervalMs: 500, what: `${payments} emails of the run` });
  await groupCaughtUp(CONSUMER_GROUPS.order, GROUP_TOPICS[CONSUMER_GROUPS.order], chain.brokers);
  await groupCaughtUp(CONSUMER_GROUPS.email, GROUP_TOPICS[CONSUMER_GROUPS.email], chain.brokers);

  const orders = new Map<string, number>();
  const orderIds = new Set<string>();
  const emails = new Map<string, number>();
  const created: Array<{ payment_id: string; order_id: string }> = [];
  const sent: Array<{ order_id: string }> = [];
  const seen = await readTopics([TOPICS.orderCreated, TOPICS.emailSent], (topic, message) => {
    let value;
    try {
      value = JSON.parse(String(message.value));
    } catch {
      return; // a bad record another suite wrote to the topic on purpose; the chain writes none
    }
    // Valid JSON that is no event (null, a number: the hostile corpus writes such records) is not the chain's either.
    if (typeof value !== 'object' || value === null) return;
    if (topic === TOPICS.orderCreated) created.push(value);
    else sent.push(value);
  }, chain.brokers);
  for (const order of created.filter((o) => String(o.payment_id).startsWith(`${run}-`))) {
    orders.set(order.payment_id, (orders.get(order.payment_id) ?? 0) + 1);
    orderIds.add(order.order_id);
  }
  for (const email of sent.filter((e) => orderIds.has(e.order_id))) emails.set(email.order_id, (emails.get(email.order_id) ?? 0) + 1);
  return { orders, emails, seen };
}

export function expectExactlyOnce(counts: Counts, payments: number): void {
  expect(counts.seen).toBeGreaterThanOrEqual(2 * payments);
  expect(counts.orders.size).toBe(payments);
  expect(counts.emails.size).toBe(payments);
  const doubled = (map: Map<string, number>) => [...map].filter(([, n]) => n !== 1);
  expect(doubled(counts.orders)).toEqual([]);
  expect(doubled(counts.emails)).toEqual([]);
}

