import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { Partitioners } from 'kafkajs';
import { floodKafka } from '../flood';
import { brokersFromEnv } from '../lib/broker';
import { chainSpecs } from '../lib/services';
import { CpuMeter, handlerStats, peakRssMiB, PIPE_GROUP, PIPE_TOPIC, type BenchContext } from './context';
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

/**
 * The ceiling of the chain's own topology: bare kafkajs pipes wired as the services are (payment-successful →
 * order-created → email-sent, and one consumer of all three topics), each consuming in batches and producing
 * each batch on in one request, run together on the same broker: no validation, no storage, no transactions.
 */
async function topologyCeiling(context: BenchContext, count: number): Promise<number> {
  await context.reset(3);
  const hops = [
    { group: 'bench-topology-order', from: TOPICS.paymentSuccessful, to: TOPICS.orderCreated as string | undefined },
    { group: 'bench-topology-email', from: TOPICS.orderCreated, to: TOPICS.emailSent },
  ];
  const analytics = { group: 'bench-topology-analytics', topics: [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent] };
  const producer = context.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumers = [...hops.map((h) => ({ group: h.group, topics: [h.from], to: h.to })), { ...analytics, to: undefined }].map(({ group, topics, to }) => {
    const consumer = context.kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    return { consumer, topics, to };
  });
  const joins = consumers.map(({ consumer }) => new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve())));
  for (const { consumer, topics, to } of consumers) {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 3 * topics.length,
      eachBatch: async ({ batch }) => {
        if (to) await producer.send({ topic: to, acks: -1, messages: batch.messages.map(({ key, value }) => ({ key, value })) });
      },
    });
  }
  await Promise.all(joins);
  const began = performance.now();
  await floodKafka({ count, batch: 500, brokers: brokersFromEnv() });
  const groups = Object.fromEntries([...hops.map((h) => [h.group, [h.from]]), [analytics.group, analytics.topics]]);
  const done = await context.drained(groups, [TOPICS.emailSent], count, 30 * 60_000);
  await Promise.all([...consumers.map(({ consumer }) => consumer.disconnect()), producer.disconnect()]);
  return count / ((done - began) / 1000);
}

type ChainMeasure = ChainRun & Pick<ThroughputResult, 'peakRssMiB' | 'profile'>;

/** The chain: three order instances, email and analytics, until every group's lag is zero. */
async function chain(context: BenchContext, count: number, delivery: Delivery): Promise<ChainMeasure> {
  await context.reset(3);
  const specs = chainSpecs().filter((s) => s.service !== 'payment');
  const services = await context.start(specs, { DELIVERY: delivery });
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
  return { delivery, chainPerSecond: count / ((done - began) / 1000), counts, lossless, peakRssMiB: peak, profile };
}

export async function throughputExperiment(context: BenchContext, count: number): Promise<ThroughputResult> {
  const ceilingPerSecond = await pipeCeiling(context, count);
  const topologyPerSecond = await topologyCeiling(context, count);
  const exactlyOnce = await chain(context, count, 'exactly-once');
  const atLeastOnce = await chain(context, count, 'at-least-once');
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
