import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { Partitioners } from 'kafkajs';
import { floodKafka } from '../flood';
import { brokersFromEnv } from '../lib/broker';
import { chainSpecs } from '../lib/services';
import { CpuMeter, handlerStats, peakRssMiB, PIPE_GROUP, PIPE_TOPIC, type BenchContext } from './context';
import { queryDatabase } from '../lib/postgres';

export interface ThroughputResult {
  count: number;
  ceilingPerSecond: number;
  chainPerSecond: number;
  ratio: number;
  /** Orders, emails and analytics events, each counted by distinct id: all must equal `count`. */
  counts: { orders: number; distinctPayments: number; emails: number; analytics: Record<string, number> };
  lossless: boolean;
  peakRssMiB: Record<string, number | null>;
  /** Where the time went during the burst: CPU seconds of each process, and each service's handlers. */
  profile: Array<{ process: string; cpuSeconds: number; handled: number; meanHandlerMs: number | null }>;
}

/**
 * The ceiling: a bare kafkajs pipe, one consumer group reading payment-successful in batches and writing
 * each batch on in one produce request, over the same broker and partitions as the chain.
 */
async function pipeCeiling(context: BenchContext, count: number): Promise<number> {
  await context.reset(3);
  const consumer = context.kafka.consumer({ groupId: PIPE_GROUP, maxWaitTimeInMs: 100 });
  const producer = context.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await Promise.all([consumer.connect(), producer.connect()]);
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.subscribe({ topic: TOPICS.paymentSuccessful, fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      await producer.send({ topic: PIPE_TOPIC, acks: -1, messages: batch.messages.map(({ key, value }) => ({ key, value })) });
    },
  });
  await joined;
  const began = performance.now();
  await floodKafka({ count, batch: 500, brokers: brokersFromEnv() });
  const done = await context.drained([PIPE_GROUP], [PIPE_TOPIC], count, 30 * 60_000);
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  return count / ((done - began) / 1000);
}

/** The chain: three order instances, email and analytics, until every group's lag is zero. */
async function chain(context: BenchContext, count: number): Promise<Omit<ThroughputResult, 'ceilingPerSecond' | 'ratio'>> {
  await context.reset(3);
  const specs = chainSpecs().filter((s) => s.service !== 'payment');
  const services = await context.start(specs);
  await context.split(CONSUMER_GROUPS.order, TOPICS.paymentSuccessful, 3);
  const meter = new CpuMeter(services, 'this benchmark (flood, lag polling)');
  const began = performance.now();
  await floodKafka({ count, batch: 500, brokers: brokersFromEnv() });
  const done = await context.drained(
    Object.values(CONSUMER_GROUPS),
    [TOPICS.orderCreated, TOPICS.emailSent],
    count,
    60 * 60_000,
  );
  const cpu = meter.read();
  const stats = await Promise.all(services.map((s) => handlerStats(s.url)));
  // The meter lists the services first, in order; the rows after them handle no events themselves.
  const profile = cpu.map(([name, cpuSeconds], i) => {
    const handled = Object.values(stats[i] ?? {});
    const total = handled.reduce((sum, h) => sum + h.count, 0);
    const meanHandlerMs = total > 0 ? handled.reduce((sum, h) => sum + h.meanMs * h.count, 0) / total : null;
    return { process: name, cpuSeconds, handled: total, meanHandlerMs };
  });
  const peak = Object.fromEntries(services.map((s) => [s.spec.label, peakRssMiB(s.child.pid)]));
  const [orders] = await queryDatabase<{ total: string; distinct: string }>(context.databaseUrl, 'SELECT count(*) AS total, count(DISTINCT payment_id) AS distinct FROM orders.orders');
  const [emails] = await queryDatabase<{ total: string }>(context.databaseUrl, 'SELECT count(DISTINCT order_id) AS total FROM email.emails');
  const analytics = await queryDatabase<{ topic: string; total: string }>(context.databaseUrl, 'SELECT topic, count(*) AS total FROM analytics.events GROUP BY topic');
  await context.stopAll();
  const counts = {
    orders: Number(orders.total),
    distinctPayments: Number(orders.distinct),
    emails: Number(emails.total),
    analytics: Object.fromEntries(analytics.map((r) => [r.topic, Number(r.total)])),
  };
  const lossless =
    counts.orders === count &&
    counts.distinctPayments === count &&
    counts.emails === count &&
    [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent].every((t) => counts.analytics[t] === count);
  return { count, chainPerSecond: count / ((done - began) / 1000), counts, lossless, peakRssMiB: peak, profile };
}

export async function throughputExperiment(context: BenchContext, count: number): Promise<ThroughputResult> {
  const ceilingPerSecond = await pipeCeiling(context, count);
  const measured = await chain(context, count);
  return { ...measured, ceilingPerSecond, ratio: measured.chainPerSecond / ceilingPerSecond };
}
