import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { Partitioners } from 'kafkajs';
import { floodKafka } from '../flood';
import { chainSpecs } from '../lib/services';
import { consumerCounts, CpuMeter, peakRssMiB, PIPE_GROUP, PIPE_TOPIC, type BenchContext } from './context';
import { queryDatabase } from '../lib/postgres';

export type Delivery = 'exactly-once' | 'at-least-once';

export interface ChainRun {
  delivery: Delivery;
  chainPerSecond: number;
  counts: { orders: number; distinctPayments: number; emails: number; analytics: Record<string, number> };
  lossless: boolean;
}

export interface ThroughputResult {
  count: number;
  /** One bare consume-and-produce hop. */
  ceilingPerSecond: number;
  /** Bare kafkajs pipes wired as the chain is, run together: the ceiling of the chain's own topology. */
  topologyPerSecond: number;
  /** The chain with DELIVERY=exactly-once (the default), and the figures below are of this run. */
  chainPerSecond: number;
  ratio: number;
  /** chain / topology ceiling. */
  topologyRatio: number;
  /** The same burst with DELIVERY=at-least-once, in the same run. */
  atLeastOnce: ChainRun;
  /** exactly-once / at-least-once. */
  exactlyOnceRatio: number;
  /** Orders, emails and analytics events, each counted by distinct id: all must equal `count`. */
  counts: ChainRun['counts'];
  lossless: boolean;
  peakRssMiB: Record<string, number | null>;
  /** Where the time went during the burst: CPU seconds of each process, and each service's handlers. */
  profile: Array<{ process: string; cpuSeconds: number; handled: number; meanHandlerMs: number | null }>;
}

/** A bare kafkajs consumer group: reads its topics in batches and, if it has a `to`, writes each batch there in one request. */
interface BarePipe {
  group: string;
  topics: string[];
  to?: string;
}

/**
 * Runs bare pipes together on a fresh broker state, floods `count` payments and returns payments per second
 * until every pipe has drained and `last` holds them all: no validation, no storage, no transactions.
 */
async function barePipes(context: BenchContext, count: number, pipes: BarePipe[], last: string): Promise<number> {
  await context.reset(3);
  const producer = context.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumers = pipes.map((pipe) => ({ pipe, consumer: context.kafka.consumer({ groupId: pipe.group, maxWaitTimeInMs: 100 }) }));
  const joins = consumers.map(({ consumer }) => new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve())));
  for (const { pipe, consumer } of consumers) {
    await consumer.connect();
    await consumer.subscribe({ topics: pipe.topics, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 3 * pipe.topics.length,
      eachBatch: async ({ batch }) => {
        if (pipe.to) await producer.send({ topic: pipe.to, acks: -1, messages: batch.messages.map(({ key, value }) => ({ key, value })) });
      },
    });
  }
  await Promise.all(joins);
  const began = performance.now();
  await floodKafka({ count, batch: 500, brokers: context.broker.brokers });
  const done = await context.drained(Object.fromEntries(pipes.map((p) => [p.group, p.topics])), [last], count, 30 * 60_000);
  await Promise.all([...consumers.map(({ consumer }) => consumer.disconnect()), producer.disconnect()]);
  return count / ((done - began) / 1000);
}

/** The ceiling of one hop: payment-successful read in batches and written on, over the chain's broker and partitions. */
function pipeCeiling(context: BenchContext, count: number): Promise<number> {
  return barePipes(context, count, [{ group: PIPE_GROUP, topics: [TOPICS.paymentSuccessful], to: PIPE_TOPIC }], PIPE_TOPIC);
}

/**
 * The ceiling of the chain's own topology: bare pipes wired as the services are (payment-successful →
 * order-created → email-sent, and one consumer of all three topics), run together.
 */
function topologyCeiling(context: BenchContext, count: number): Promise<number> {
  return barePipes(
    context,
    count,
    [
      { group: 'bench-topology-order', topics: [TOPICS.paymentSuccessful], to: TOPICS.orderCreated },
      { group: 'bench-topology-email', topics: [TOPICS.orderCreated], to: TOPICS.emailSent },
      { group: 'bench-topology-analytics', topics: [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent] },
    ],
    TOPICS.emailSent,
  );
}

export type ChainMeasure = ChainRun & Pick<ThroughputResult, 'peakRssMiB' | 'profile'>;

/** The chain: three order instances, email and analytics, until every group's lag is zero. */
export async function chainBurst(context: BenchContext, count: number, delivery: Delivery): Promise<ChainMeasure> {
  await context.reset(3);
  const specs = chainSpecs().filter((s) => s.service !== 'payment');
  const services = await context.start(specs, { DELIVERY: delivery });
  await context.split(CONSUMER_GROUPS.order, TOPICS.paymentSuccessful, 3);
  const meter = new CpuMeter(services, context.broker, 'this benchmark (flood, lag polling)');
  const began = performance.now();
  await floodKafka({ count, batch: 500, brokers: context.broker.brokers });
  const done = await context.drained(
    Object.values(CONSUMER_GROUPS),
    [TOPICS.orderCreated, TOPICS.emailSent],
    count,
    60 * 60_000,
  );
  const cpu = meter.read();
  const stats = await Promise.all(services.map((s) => consumerCounts(s.url)));
  // The meter lists the services first, in order; the rows after them handle no events themselves.
  const profile = cpu.map(([name, cpuSeconds], i) => {
    const topics = Object.values(stats[i] ?? {});
    const total = topics.reduce((sum, t) => sum + t.handled, 0);
    const meanHandlerMs = total > 0 ? (topics.reduce((sum, t) => sum + t.handlerSeconds, 0) * 1000) / total : null;
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
  return { delivery, chainPerSecond: count / ((done - began) / 1000), counts, lossless, peakRssMiB: peak, profile };
}

export async function throughputExperiment(context: BenchContext, count: number): Promise<ThroughputResult> {
  const ceilingPerSecond = await pipeCeiling(context, count);
  const topologyPerSecond = await topologyCeiling(context, count);
  const exactlyOnce = await chainBurst(context, count, 'exactly-once');
  const atLeastOnce = await chainBurst(context, count, 'at-least-once');
  return {
    count,
    ceilingPerSecond,
    topologyPerSecond,
    chainPerSecond: exactlyOnce.chainPerSecond,
    ratio: exactlyOnce.chainPerSecond / ceilingPerSecond,
    topologyRatio: exactlyOnce.chainPerSecond / topologyPerSecond,
    counts: exactlyOnce.counts,
    lossless: exactlyOnce.lossless,
    atLeastOnce: { delivery: atLeastOnce.delivery, chainPerSecond: atLeastOnce.chainPerSecond, counts: atLeastOnce.counts, lossless: atLeastOnce.lossless },
    exactlyOnceRatio: exactlyOnce.chainPerSecond / atLeastOnce.chainPerSecond,
    peakRssMiB: exactlyOnce.peakRssMiB,
    profile: exactlyOnce.profile,
  };
}
