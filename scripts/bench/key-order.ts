import { randomUUID } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { floodKafka } from '../flood';
import { currentRanges, scanRanges } from '../lib/topic-scan';
import { waitFor } from '../lib/wait';
import type { BenchContext } from './context';

/** One drain of payments by one order instance in key order (its default settings). */
export interface KeyOrderRow {
  payments: number;
  users: number;
  /** From the first payment sent to the last `order-created` of the payments counted. */
  seconds: number;
  /** Whether each user's `order-created` events came in the order of their payments. */
  orderKept: boolean;
}

export interface KeyOrderResult {
  delayMs: number;
  /** Every payment a user of its own. */
  manyUsers: KeyOrderRow;
  /** The same payments over 20 users: at most 20 steps at once. */
  twentyUsers: KeyOrderRow & { perSecond: number; ceilingPerSecond: number };
  /** One user makes every tenth payment: how long the others take, beside the same others alone. */
  hotKey: { others: number; othersSeconds: number; othersAloneSeconds: number; hotSeconds: number; orderKept: boolean };
}

const HOT_USER = 1_000_000;

/** `order-created` as it arrives: when each payment's order came, by payment id. */
class OrderArrivals {
  readonly at = new Map<string, number>();
  private constructor(private readonly consumer: Consumer) {}

  static async start(context: BenchContext): Promise<OrderArrivals> {
    const consumer = context.kafka.consumer({ groupId: `bench-arrivals-${randomUUID()}`, allowAutoTopicCreation: false });
    const arrivals = new OrderArrivals(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.orderCreated, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const now = performance.now();
        for (const message of batch.messages) {
          const paymentId = (JSON.parse(message.value!.toString()) as { payment_id: string }).payment_id;
          if (!arrivals.at.has(paymentId)) arrivals.at.set(paymentId, now);
        }
      },
    });
    return arrivals;
  }

  /** When the last of `paymentIds` arrived, once all have. */
  async last(paymentIds: readonly string[], timeoutMs: number): Promise<number> {
    return waitFor(() => (paymentIds.every((id) => this.at.has(id)) ? Math.max(...paymentIds.map((id) => this.at.get(id)!)) : undefined), {
      timeoutMs,
      intervalMs: 50,
      what: `${paymentIds.length} orders`,
    });
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

/** Per user, the payment ids in the order of a topic's records (one partition per user, so offset order). */
async function paymentsByUser(context: BenchContext, topic: string): Promise<Map<string, string[]>> {
  const byUser = new Map<string, string[]>();
  await scanRanges(context.kafka, await currentRanges(context.admin, [topic]), (_topic, _partition, record) => {
    const user = record.key?.toString() ?? '';
    const paymentId = (JSON.parse(record.value!.toString()) as { payment_id: string }).payment_id;
    const list = byUser.get(user) ?? [];
    list.push(paymentId);
    byUser.set(user, list);
  });
  return byUser;
}

/** Whether every user's orders were created in the order of the user's payments. */
async function orderKept(context: BenchContext): Promise<boolean> {
  const [paid, ordered] = await Promise.all([paymentsByUser(context, TOPICS.paymentSuccessful), paymentsByUser(context, TOPICS.orderCreated)]);
  if (paid.size !== ordered.size) return false;
  for (const [user, payments] of paid) {
    const orders = ordered.get(user) ?? [];
    if (orders.length !== payments.length || orders.some((id, i) => id !== payments[i])) return false;
  }
  return true;
}

/**
 * One order instance with its default settings (key order) and a slow step of `delayMs`: `count` payments,
 * user `userOf(i)` for the i-th. Returns when each payment's order came, and whether each user's order held.
 */
async function drain(context: BenchContext, count: number, delayMs: number, userOf: (i: number) => number) {
  await context.reset(3);
  await context.start([{ service: 'order', label: 'order-1', port: 8001, env: { INSTANCE_ID: '1' } }], { PROCESSING_DELAY_MS: String(delayMs) });
  await context.split(CONSUMER_GROUPS.order, TOPICS.paymentSuccessful, 1);
  const arrivals = await OrderArrivals.start(context);
  try {
    const began = performance.now();
    await floodKafka({ count, batch: 500, brokers: context.broker.brokers, userOf });
    const payments = await paymentsByUser(context, TOPICS.paymentSuccessful);
    const since = (ids: string[]) => async () => ((await arrivals.last(ids, 10 * 60_000)) - began) / 1000;
    const all = [...payments.values()].flat();
    await arrivals.last(all, 10 * 60_000);
    const kept = await orderKept(context);
    return { payments, since, kept };
  } finally {
    await arrivals.stop();
    await context.stopAll();
  }
}

/** The engine's rows: one order instance in key order, against the course's slow step. */
export async function keyOrderExperiment(context: BenchContext, count: number, delayMs: number): Promise<KeyOrderResult> {
  const many = await drain(context, count, delayMs, (i) => i + 1);
  const manyUsers = { payments: count, users: count, seconds: await many.since([...many.payments.values()].flat())(), orderKept: many.kept };

  const twenty = await drain(context, count, delayMs, (i) => (i % 20) + 1);
  const twentySeconds = await twenty.since([...twenty.payments.values()].flat())();
  const twentyUsers = {
    payments: count,
    users: 20,
    seconds: twentySeconds,
    orderKept: twenty.kept,
    perSecond: count / twentySeconds,
    ceilingPerSecond: (20 * 1000) / delayMs,
  };

  // Every tenth payment is the hot user's; the others have a user each. Then the same others without it.
  const hot = await drain(context, count, delayMs, (i) => (i % 10 === 0 ? HOT_USER : i + 1));
  const othersOf = (payments: Map<string, string[]>) => [...payments].filter(([user]) => user !== String(HOT_USER)).flatMap(([, ids]) => ids);
  const othersSeconds = await hot.since(othersOf(hot.payments))();
  const hotSeconds = await hot.since(hot.payments.get(String(HOT_USER)) ?? [])();
  const alone = await drain(context, count - Math.ceil(count / 10), delayMs, (i) => Math.floor(i / 9) * 10 + (i % 9) + 2);
  const othersAloneSeconds = await alone.since(othersOf(alone.payments))();
  return {
    delayMs,
    manyUsers,
    twentyUsers,
    hotKey: { others: othersOf(hot.payments).length, othersSeconds, othersAloneSeconds, hotSeconds, orderKept: hot.kept && alone.kept },
  };
}
