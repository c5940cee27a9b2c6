import { TOPICS } from '@app/contracts';
import { PartitionTransactions, producerConfig, type StagedEvents } from '@app/kafka';
import { cpuSeconds, type BenchContext } from './context';

export interface CostResult {
  /** Calls measured of each kind, after as many again of warm-up. */
  calls: number;
  /** CPU milliseconds per call: the broker's, and this process's (kafkajs and the project's code). */
  transaction: { brokerMs: number; clientMs: number; wallMs: number };
  produce: { brokerMs: number; clientMs: number; wallMs: number };
}

/** The group whose offset the measured transactions commit: nobody consumes with it. */
const COST_GROUP = 'bench-cost';

/**
 * What one call to the broker costs on this machine, made alone as a hop makes it at a trickle, one after
 * another: a transaction of PartitionTransactions (one event, the consumed offset, commit), and one acks=all
 * produce request of one event. Nothing else runs meanwhile, so the broker's CPU is theirs.
 */
export async function costExperiment(context: BenchContext, calls: number): Promise<CostResult> {
  await context.reset(3);
  const staged = (i: number): StagedEvents[] => [
    { topic: TOPICS.orderCreated, events: [{ key: String(i), value: { order_id: `cost-${i}`, user_id: i, total: 249 } }] },
  ];
  const brokerCpu = () => context.broker.pids().map(cpuSeconds).reduce((a, b) => a + b, 0);
  const measure = async (work: (i: number) => Promise<void>) => {
    for (let i = 0; i < calls; i++) await work(i); // warm-up: the broker's JIT compiles these paths
    const brokerBefore = brokerCpu();
    const clientBefore = process.cpuUsage();
    const began = performance.now();
    for (let i = calls; i < 2 * calls; i++) await work(i);
    const client = process.cpuUsage(clientBefore);
    const broker = brokerCpu() - brokerBefore;
    return { brokerMs: (broker * 1000) / calls, clientMs: (client.user + client.system) / 1000 / calls, wallMs: (performance.now() - began) / calls };
  };

  const transactions = new PartitionTransactions(context.kafka, COST_GROUP);
  let transaction: CostResult['transaction'];
  try {
    await transactions.claim(TOPICS.paymentSuccessful, 0);
    transaction = await measure((i) => transactions.commit(TOPICS.paymentSuccessful, 0, staged(i), String(i + 1)));
  } finally {
    await transactions.close();
  }

  const producer = context.kafka.producer(producerConfig);
  await producer.connect();
  let produce: CostResult['produce'];
  try {
    produce = await measure(async (i) => {
      await producer.send({ topic: TOPICS.orderCreated, acks: -1, messages: staged(i)[0].events.map((e) => ({ key: e.key, value: JSON.stringify(e.value) })) });
    });
  } finally {
    await producer.disconnect();
  }
  return { calls, transaction, produce };
}
