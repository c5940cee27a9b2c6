import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS } from '@app/contracts';
import { PartitionTransactions, producerConfig, type StagedEvents } from '@app/kafka';
import { waitFor } from '../lib/wait';
import { cpuSeconds, type BenchContext } from './context';

export interface CallCost {
  /** The broker's CPU per call, less what it spends idle over the same time; null when its process is not the benchmark's. */
  brokerMs: number | null;
  /** This process's CPU per call: kafkajs and the project's code. */
  clientMs: number;
  wallMs: number;
}

export interface CostResult {
  /** Calls measured of each kind, after as many again of warm-up. */
  calls: number;
  transaction: CallCost & {
    /** AddPartitionsToTxn requests refused and sent again, per transaction (the coordinator still ending the last one). */
    refusedPerCall: number;
  };
  produce: CallCost;
}

/** The group whose offset the measured transactions commit: nobody consumes with it. */
const COST_GROUP = 'bench-cost';
const IDLE_SAMPLE_MS = 3000;

/**
 * What one call to the broker costs on this machine, made alone as a hop makes it at a trickle, each as soon as
 * the one before has ended: a transaction of PartitionTransactions (one event, the consumed offset, commit), and
 * one acks=all produce request of one event. Nothing else runs meanwhile, so the broker's CPU beyond its idle
 * rate is theirs.
 */
export async function costExperiment(context: BenchContext, calls: number): Promise<CostResult> {
  await context.reset(3);
  // On a new broker the group's coordinator is still loading its partition of __consumer_offsets, and kafkajs
  // gives a transaction's offset commit only a few retries (NOT_COORDINATOR): wait until the group is served.
  await waitFor(() => context.admin.fetchOffsets({ groupId: COST_GROUP, topics: [TOPICS.paymentSuccessful] }).then(() => true), {
    timeoutMs: 60_000,
    what: `the coordinator of group ${COST_GROUP}`,
  });
  const pids = context.broker.pids();
  const brokerCpu = () => pids.map(cpuSeconds).reduce((a, b) => a + b, 0);
  const measured = pids.length > 0 && pids.every((pid) => pid !== undefined);
  const idleBefore = brokerCpu();
  await sleep(IDLE_SAMPLE_MS);
  const idlePerMs = (brokerCpu() - idleBefore) / IDLE_SAMPLE_MS;

  const staged = (i: number): StagedEvents[] => [
    { topic: TOPICS.orderCreated, events: [{ key: String(i), value: { order_id: `cost-${i}`, user_id: i, total: 249 } }] },
  ];
  const measure = async (work: (i: number) => Promise<void>): Promise<CallCost> => {
    for (let i = 0; i < calls; i++) await work(i); // warm-up: the broker's JIT compiles these paths
    const brokerBefore = brokerCpu();
    const clientBefore = process.cpuUsage();
    const began = performance.now();
    for (let i = calls; i < 2 * calls; i++) await work(i);
    const wall = performance.now() - began;
    const client = process.cpuUsage(clientBefore);
    const broker = brokerCpu() - brokerBefore - idlePerMs * wall;
    return { brokerMs: measured ? (broker * 1000) / calls : null, clientMs: (client.user + client.system) / 1000 / calls, wallMs: wall / calls };
  };

  const transactions = new PartitionTransactions(context.kafka, COST_GROUP);
  let transaction: CostResult['transaction'];
  try {
    const producer = await transactions.claim(TOPICS.paymentSuccessful, 0);
    let adds = 0;
    const counting = producer.on(producer.events.REQUEST, ({ payload }) => void (payload.apiName === 'AddPartitionsToTxn' && adds++));
    const commit = (i: number) => transactions.commit(TOPICS.paymentSuccessful, 0, staged(i), String(i + 1));
    const cost = await measure(commit);
    counting();
    // Over the warm-up and the measured calls: each transaction adds its one output partition once, and every
    // further request was a refusal sent again.
    transaction = { ...cost, refusedPerCall: adds / (2 * calls) - 1 };
  } finally {
    await transactions.close();
  }

  const producer = context.kafka.producer(producerConfig);
  let produce: CostResult['produce'];
  try {
    await producer.connect();
    produce = await measure(async (i) => {
      await producer.send({ topic: TOPICS.orderCreated, acks: -1, messages: staged(i)[0].events.map((e) => ({ key: e.key, value: JSON.stringify(e.value) })) });
    });
  } finally {
    await producer.disconnect();
  }
  return { calls, transaction, produce };
}
