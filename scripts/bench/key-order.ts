import { randomUUID } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { floodKafka } from '../flood';
import { currentRanges, scanRanges } from '../lib/topic-scan';
import { queryDatabase } from '../lib/postgres';
import { waitFor } from '../lib/wait';
import type { BenchContext } from './context';
import { heldRecordsRow, type HeldRecordsResult } from './held-records';

/** One drain of payments by one order instance in key order (its default settings). */
export interface KeyOrderRow {
  payments: number;
  users: number;
  /** From the first payment sent (its record's timestamp) to the last `order-created` of the payments counted. */
  seconds: number;
  /**
   * Whether each user's `order-created` events came in the order of their payments, and no two of a user's
   * orders were stored less than the step apart (had two of a key's records run at once, their waits would
   * overlap and their orders be stored closer together).
   */
  orderKept: boolean;
  /** Mean time between two orders of one user, beyond the step: what one record costs besides its wait. */
  stepOverheadMs: number | null;
}

export interface KeyOrderResult {
  delayMs: number;
  /** Every payment a user of its own. */
  manyUsers: KeyOrderRow;
  /** The same payments over 20 users: at most 20 steps at once. */
  twentyUsers: KeyOrderRow & { perSecond: number; ceilingPerSecond: number };
  /** FLOOD payments at once: what the instance holds of them (back-pressure). */
  flood: HeldRecordsResult;
  /** One user makes every tenth payment: how long the others take, beside the same others alone (medians). */
  hotKey: {
    others: number;
    othersSeconds: number;
    othersAloneSeconds: number;
    hotSeconds: number;
    /** The hot user's mean time between two orders, beyond the step. */
    hotStepOverheadMs: number | null;
    /** Each pair of drains: the others' seconds with the hot user, and alone (the figures above are medians). */
    pairs: Array<[number, number]>;
    orderKept: boolean;
  };
}

const HOT_USER = 1_000_000;
/** The flood of the back-pressure row. */
const FLOOD = 100_000;

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

/** Per user, the times their orders were stored, in order. */
async function storedAt(context: BenchContext): Promise<number[][]> {
  const rows = await queryDatabase<{ user_id: number; at: number[] }>(
    context.databaseUrl,
    'SELECT user_id, array_agg(extract(epoch FROM created_at) * 1000 ORDER BY created_at) AS at FROM orders.orders GROUP BY user_id',
  );
  return rows.map((row) => row.at.map(Number));
}

/** The gaps between a user's consecutive orders, over every user with more than one. */
function stepGaps(times: number[][]): number[] {
  return times.flatMap((at) => at.slice(1).map((t, i) => t - at[i]));
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
    await floodKafka({ count, batch: 500, brokers: context.broker.brokers, userOf });
    const payments = await paymentsByUser(context, TOPICS.paymentSuccessful);
    const began = await context.firstSentAt(TOPICS.paymentSuccessful);
    const since = (ids: string[]) => async () => ((await arrivals.last(ids, 10 * 60_000)) - began) / 1000;
    const all = [...payments.values()].flat();
    await arrivals.last(all, 10 * 60_000);
    const stored = await storedAt(context);
    const gaps = stepGaps(stored);
    const overlapped = gaps.some((gap) => gap < delayMs);
    const kept = (await orderKept(context)) && !overlapped;
    const stepOverheadMs = gaps.length === 0 ? null : gaps.reduce((a, b) => a + b, 0) / gaps.length - delayMs;
    return { payments, since, kept, stepOverheadMs };
  } finally {
    await arrivals.stop();
    await context.stopAll();
  }
}

/** Every payment a user of its own. */
async function manyUsersRow(context: BenchContext, count: number, delayMs: number): Promise<KeyOrderRow> {
  const many = await drain(context, count, delayMs, (i) => i + 1);
  const seconds = await many.since([...many.payments.values()].flat())();
  return { payments: count, users: count, seconds, orderKept: many.kept, stepOverheadMs: many.stepOverheadMs };
}

/** The same payments over 20 users, against the 20 steps at once that their keys allow. */
async function twentyUsersRow(context: BenchContext, count: number, delayMs: number): Promise<KeyOrderResult['twentyUsers']> {
  const twenty = await drain(context, count, delayMs, (i) => (i % 20) + 1);
  const seconds = await twenty.since([...twenty.payments.values()].flat())();
  return {
    payments: count,
    users: 20,
    seconds,
    orderKept: twenty.kept,
    stepOverheadMs: twenty.stepOverheadMs,
    perSecond: count / seconds,
    ceilingPerSecond: (20 * 1000) / delayMs,
  };
}

/** Alternating drains with and without the hot user: the others' time is under a second, and a run's noise is a tenth of it. */
const HOT_KEY_PAIRS = 3;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Every tenth payment is the hot user's, the others have a user each; then the same others without it. The
 * two drains alternate HOT_KEY_PAIRS times, and the medians are compared.
 */
async function hotKeyRow(context: BenchContext, count: number, delayMs: number): Promise<KeyOrderResult['hotKey']> {
  const othersOf = (payments: Map<string, string[]>) => [...payments].filter(([user]) => user !== String(HOT_USER)).flatMap(([, ids]) => ids);
  const runs: Array<{ others: number; othersSeconds: number; othersAloneSeconds: number; hotSeconds: number; hotStepOverheadMs: number | null; orderKept: boolean }> = [];
  for (let pair = 0; pair < HOT_KEY_PAIRS; pair++) {
    const hot = await drain(context, count, delayMs, (i) => (i % 10 === 0 ? HOT_USER : i + 1));
    const othersSeconds = await hot.since(othersOf(hot.payments))();
    const hotSeconds = await hot.since(hot.payments.get(String(HOT_USER)) ?? [])();
    const alone = await drain(context, count - Math.ceil(count / 10), delayMs, (i) => Math.floor(i / 9) * 10 + (i % 9) + 2);
    const othersAloneSeconds = await alone.since(othersOf(alone.payments))();
    const others = othersOf(hot.payments).length;
    runs.push({ others, othersSeconds, othersAloneSeconds, hotSeconds, hotStepOverheadMs: hot.stepOverheadMs, orderKept: hot.kept && alone.kept });
  }
  return {
    others: runs[0].others,
    othersSeconds: median(runs.map((r) => r.othersSeconds)),
    othersAloneSeconds: median(runs.map((r) => r.othersAloneSeconds)),
    hotSeconds: median(runs.map((r) => r.hotSeconds)),
    hotStepOverheadMs: median(runs.map((r) => r.hotStepOverheadMs ?? NaN)),
    pairs: runs.map((r) => [r.othersSeconds, r.othersAloneSeconds]),
    orderKept: runs.every((r) => r.orderKept),
  };
}

/** The engine's rows: one order instance in key order, against the course's slow step. */
export async function keyOrderExperiment(context: BenchContext, count: number, delayMs: number): Promise<KeyOrderResult> {
  const manyUsers = await manyUsersRow(context, count, delayMs);
  const twentyUsers = await twentyUsersRow(context, count, delayMs);
  const hotKey = await hotKeyRow(context, count, delayMs);
  const flood = await heldRecordsRow(context, FLOOD, delayMs);
  return { delayMs, manyUsers, twentyUsers, hotKey, flood };
}
