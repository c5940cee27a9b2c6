import { stopLocalBroker } from '../lib/kafka-local';
import { clusterNodeLayout, clusterStateDir, startLocalCluster, stopLocalCluster } from '../lib/kafka-local/cluster';
import { pidOf } from '../lib/kafka-local/lifecycle';
import { BenchContext } from './context';
import { latencyExperiment, type LatencyResult } from './latency';
import { chainBurst, type ChainMeasure } from './throughput';

/** The benchmark's three nodes: clear of its single broker (29092, controller 29093) and of the dev and test ports. */
export const BENCH_CLUSTER = ['127.0.0.1:29192', '127.0.0.1:29193', '127.0.0.1:29194'];

export interface ClusterResult {
  count: number;
  /** The same burst as the throughput experiment's exactly-once chain, on three nodes. */
  burst: ChainMeasure;
  /** The same steady run as the latency experiment's exactly-once one, on three nodes. */
  latency: LatencyResult;
}

/**
 * The chain on three local nodes (three copies of every partition, two in sync, acks=all), measured as on one:
 * the burst until every lag is zero, then the steady rate. The single broker stops first, so the two never
 * share the machine; this runs last.
 */
export async function clusterExperiment(count: number, rate: number, seconds: number): Promise<ClusterResult> {
  await stopLocalBroker();
  const stateDir = clusterStateDir();
  await stopLocalCluster({ stateDir, brokers: BENCH_CLUSTER, purge: true });
  await startLocalCluster({ stateDir, brokers: BENCH_CLUSTER });
  const context = await BenchContext.open({ brokers: BENCH_CLUSTER, pids: () => [1, 2, 3].map((id) => pidOf(clusterNodeLayout(stateDir, id))) });
  try {
    const burst = await chainBurst(context, count, 'exactly-once');
    const latency = await latencyExperiment(context, rate, seconds, 'exactly-once');
    return { count, burst, latency };
  } finally {
    await context.close();
    await stopLocalCluster({ stateDir, brokers: BENCH_CLUSTER, purge: true });
  }
}
