import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { CONSUMER_GROUPS, GROUP_TOPICS, TOPICS } from '@app/contracts';
import { consumerServerOptions, PartitionTransactions, producerConfig, SINK_GATHERING, TRANSACTION_GATHERING, type FetchGathering } from '@app/kafka';
import { CpuMeter, percentile, type BenchContext } from './context';
import { latencyStages, sendAtRate, STEADY_CART, WARM_UP_SECONDS, type SteadyLatency } from './latency';
import type { Delivery } from './throughput';

/**
 * From the benchmark writing a payment to the bare email hop writing its event; its CPU rows are the broker's and
 * this process's (the pipes and their producer).
 */
export type FloorResult = SteadyLatency;

/** A bare pipe of the floor: a consumer group of `members`, writing each fetched batch of a partition to `to`. */
interface FloorPipe {
  group: string;
  topics: string[];
  members: number;
  gather?: FetchGathering;
  to?: string;
}

/**
 * The floor under the steady run's latency: what Kafka and kafkajs alone take on this machine at the same rate.
 * Bare pipes wired as the chain is (three members reading payment-successful into order-created, one reading
 * order-created into email-sent, one reading all three topics), with the services' own consumer settings and
 * fetch gathering, in this process: no HTTP, no Nest, no validation, no storage. Exactly once, each fetched
 * batch of a partition leaves in one transaction of the project's PartitionTransactions, as a hop's slice does;
 * at least once, in one acks=all produce request, its offset committed on an interval. The benchmark writes each
 * payment itself, one acks=all request each, as the payment service does.
 */
export async function latencyFloor(context: BenchContext, rate: number, seconds: number, delivery: Delivery): Promise<FloorResult> {
  await context.reset(3);
  const transactional = delivery === 'exactly-once';
  const hopGather = transactional ? TRANSACTION_GATHERING : undefined;
  const pipes: FloorPipe[] = [
    { group: 'bench-floor-order', topics: [TOPICS.paymentSuccessful], members: 3, gather: hopGather, to: TOPICS.orderCreated },
    { group: 'bench-floor-email', topics: [TOPICS.orderCreated], members: 1, gather: hopGather, to: TOPICS.emailSent },
    { group: 'bench-floor-analytics', topics: GROUP_TOPICS[CONSUMER_GROUPS.analytics], members: 1, gather: SINK_GATHERING },
  ];
  const consumers: Consumer[] = [];
  const producers: Producer[] = [];
  const transactions: PartitionTransactions[] = [];
  const joins: Promise<void>[] = [];
  for (const pipe of pipes) {
    for (let member = 0; member < pipe.members; member++) {
      const options = consumerServerOptions({
        brokers: context.broker.brokers,
        clientId: `${pipe.group}-${member}`,
        groupId: pipe.group,
        concurrency: 3 * pipe.topics.length,
        gather: pipe.gather,
      });
      // The services' client settings; kafkajs' own log lines stay off the benchmark's terminal, as for every tool.
      const kafka = new Kafka({ ...options.client!, logLevel: logLevel.NOTHING });
      const consumer = kafka.consumer(options.consumer!);
      joins.push(new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve())));
      consumers.push(consumer);
      const to = pipe.to;
      let write: (topic: string, partition: number, messages: Array<{ key: Buffer | null; value: Buffer | null }>, next: string) => Promise<void> = async () => undefined;
      if (to && transactional) {
        const partitionTransactions = new PartitionTransactions(kafka, pipe.group);
        transactions.push(partitionTransactions);
        write = async (topic, partition, messages, next) => {
          await partitionTransactions.claim(topic, partition);
          const events = messages.map(({ key, value }) => ({ key: String(key), value: JSON.parse(String(value)) as object }));
          await partitionTransactions.commit(topic, partition, [{ topic: to, events }], next);
        };
      } else if (to) {
        const producer = kafka.producer(producerConfig);
        await producer.connect();
        producers.push(producer);
        write = async (_topic, _partition, messages) => {
          await producer.send({ topic: to, acks: -1, messages: messages.map(({ key, value }) => ({ key, value })) });
        };
      }
      await consumer.connect();
      await consumer.subscribe({ topics: pipe.topics, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: options.run!.partitionsConsumedConcurrently,
        // Offsets a transaction does not carry are committed on an interval, as the services' consumers do.
        autoCommit: !(to && transactional),
        autoCommitInterval: 200,
        eachBatch: async ({ batch }) => {
          if (batch.messages.length === 0) return;
          await write(batch.topic, batch.partition, batch.messages, (BigInt(batch.lastOffset()) + 1n).toString());
        },
      });
    }
  }
  await Promise.all(joins);
  const hopGroups = Object.fromEntries(pipes.filter((p) => p.to).map((p) => [p.group, p.topics]));
  // The payment service's producer settings (Nest's client with the project's producer config).
  const payments = context.kafka.producer(producerConfig);
  await payments.connect();
  const failures = new Map<string, number>();
  const send = (userId: number): Promise<string | undefined> =>
    payments
      .send({
        topic: TOPICS.paymentSuccessful,
        acks: -1,
        messages: [{ key: String(userId), value: JSON.stringify({ user_id: userId, cart: STEADY_CART, timestamp: Date.now() / 1000 }) }],
      })
      .then(() => undefined, (error: unknown) => `${(error as Error).name}: ${(error as Error).message}`);
  const sendSteadily = async (count: number, firstUser: number) => {
    const sent = await sendAtRate(count, rate, firstUser, send, failures);
    if (sent.failed > 0) throw new Error(`the floor's producer failed ${sent.failed} writes: ${JSON.stringify(Object.fromEntries(failures))}`);
    await context.drained(hopGroups, [], 0, 120_000);
    return sent.sentWallClock;
  };
  try {
    // As the chain's run: the broker's JIT compiler and the pipes' first transactions are not measured.
    await sendSteadily(rate * WARM_UP_SECONDS, 2_000_000);
    const meter = new CpuMeter([], context.broker, 'this benchmark (bare pipes and their producer)');
    const runBegan = new Date();
    const wallBefore = performance.now();
    const sentWallClock = await sendSteadily(rate * seconds, 1_000_000);
    const wallSeconds = (performance.now() - wallBefore) / 1000;
    const cpu = meter.read();
    const { written, stages } = await latencyStages(context, runBegan, sentWallClock, 'payment sent → payment-successful written');
    return { delivery, rate, sent: rate * seconds, p50: percentile(written, 50), p99: percentile(written, 99), max: written[written.length - 1], stages, cpu, wallSeconds };
  } finally {
    await Promise.all(consumers.map((c) => c.disconnect()));
    await Promise.all([...producers, payments].map((p) => p.disconnect()));
    await Promise.all(transactions.map((t) => t.close()));
  }
}
