import * as fs from 'node:fs';
import * as path from 'node:path';
import { waitFor } from '../wait';
import { nodeAnswers, toolKafka } from './client';
import { serverProperties, type KafkaNode } from './config-files';
import { brokerLayout, type BrokerLayout } from './layout';
import { ensureClasspath } from './classpath';
import { javaBinary, launchNode, localBrokerPid, newClusterId, pidOf, stopNode, waitUntilReady } from './lifecycle';
import { run } from './run';
import { brokersFromEnv, defaultLog, parseAddress, stateDirFromEnv, TOOL_JVM_OPTIONS, type Log } from './settings';

/** Client ports of the three local nodes unless KAFKA_BROKERS lists three addresses. */
export const CLUSTER_BROKERS = ['127.0.0.1:9092', '127.0.0.1:9093', '127.0.0.1:9094'];
/** A node's controller listens this far above its client port (9092 → 9192), clear of the other nodes' ports. */
const CONTROLLER_OFFSET = 100;
/** Three heaps beside the chain on 2 cores and 24 GiB. */
const NODE_HEAP = ['-Xms384m', '-Xmx384m'];

/** The cluster's addresses: KAFKA_BROKERS when it lists three, else 127.0.0.1:9092, 9093 and 9094. */
export function clusterBrokersFromEnv(): string[] {
  const listed = brokersFromEnv();
  return listed.length === 3 ? listed : CLUSTER_BROKERS;
}

/** `--brokers N`: one node (the default) or a cluster of three. */
export function nodeCountFromArgs(flags: string[]): 1 | 3 {
  const at = flags.indexOf('--brokers');
  if (at < 0) return 1;
  const value = flags[at + 1];
  if (value === '1' || value === '3') return Number(value) as 1 | 3;
  throw new Error(`--brokers takes 1 or 3, not ${value ?? 'nothing'}`);
}

export interface ClusterOptions {
  /** The cluster's own state directory; each node keeps its data in `node-<id>` under it. */
  stateDir?: string;
  /** The three client addresses. */
  brokers?: string[];
  log?: Log;
}

interface ClusterNode {
  node: KafkaNode;
  address: string;
  layout: BrokerLayout;
}

/** Where the cluster of a single broker's state directory (KAFKA_STATE_DIR) keeps its nodes: beside it. */
export function clusterStateDir(singleStateDir: string = stateDirFromEnv()): string {
  return `${singleStateDir}-cluster`;
}

/** The files of node `id` of the cluster kept in `stateDir`. */
export function clusterNodeLayout(stateDir: string, id: number): BrokerLayout {
  return brokerLayout(path.join(stateDir, `node-${id}`));
}

function clusterOf(opts: ClusterOptions) {
  const stateDir = opts.stateDir ?? clusterStateDir();
  const brokers = opts.brokers ?? clusterBrokersFromEnv();
  if (brokers.length !== 3) throw new Error(`a local cluster has three nodes: give three addresses, not ${brokers.length}`);
  const nodes: ClusterNode[] = brokers.map((address, i) => {
    const { host, port } = parseAddress(address);
    const id = i + 1;
    return { node: { id, host, port, controllerPort: port + CONTROLLER_OFFSET }, address, layout: clusterNodeLayout(stateDir, id) };
  });
  return { stateDir, brokers, nodes, log: opts.log ?? defaultLog };
}

/** Every node formats its storage with the same cluster id, kept beside them. */
function clusterId(stateDir: string): string {
  const file = path.join(stateDir, 'cluster.id');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const id = newClusterId();
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(file, `${id}\n`);
  return id;
}

/**
 * Starts whichever of the three nodes is not running (all of them the first time, a lost one later, so it
 * rejoins), then waits until every node answers and the cluster counts three brokers.
 */
export async function startLocalCluster(opts: ClusterOptions = {}): Promise<{ started: number[] }> {
  const { stateDir, brokers, nodes, log } = clusterOf(opts);
  const single = localBrokerPid();
  // The single broker holds 9092 and 9093 (its controller): the two cannot run side by side from one state directory.
  if (single !== undefined) throw new Error(`a single local broker runs (pid ${single}): stop it with \`npm run kafka:down\` before starting three nodes`);
  const id = clusterId(stateDir);
  const voters = nodes.map((n) => n.node);
  const started: Array<{ node: ClusterNode; exitReason: () => string | undefined }> = [];
  for (const member of nodes) {
    if (pidOf(member.layout) !== undefined) continue;
    const { pid, exitReason } = await launchNode(member.layout, serverProperties(member.layout, member.node, voters), log, { clusterId: id, heap: NODE_HEAP });
    log(`node ${member.node.id} pid ${pid} starting at ${member.address} (logs in ${member.layout.logsDir})`);
    started.push({ node: member, exitReason });
  }
  for (const { node, exitReason } of started) await waitUntilReady(node.layout, [node.address], exitReason);
  await waitForBrokers(brokers, nodes.length);
  return { started: started.map((s) => s.node.node.id) };
}

async function waitForBrokers(brokers: string[], count: number): Promise<void> {
  const admin = toolKafka('cluster-start', brokers).admin();
  // waitFor takes a failed connect or request as a "not yet".
  const counted = async () => {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length >= count;
  };
  try {
    await waitFor(counted, { timeoutMs: 90_000, intervalMs: 500, what: `the cluster to count ${count} brokers` });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Stops every node of the local cluster; with `purge`, deletes their data too. Answers how many were running. */
export async function stopLocalCluster(opts: ClusterOptions & { purge?: boolean } = {}): Promise<number> {
  const { stateDir, nodes, log } = clusterOf(opts);
  // All at once: a node stopping alone waits for the others to take over its partitions.
  const stopped = (await Promise.all(nodes.map((member) => stopNode(member.layout, log)))).filter(Boolean).length;
  if (opts.purge) fs.rmSync(stateDir, { recursive: true, force: true });
  return stopped;
}

export interface ClusterStatus {
  nodes: Array<{ id: number; address: string; pid?: number; answering: boolean }>;
  controller?: number;
  underReplicated: Array<{ topic: string; partition: number; replicas: number; inSync: number }>;
}

/** Each node (its pid, whether it answers), the active controller, and the partitions short of in-sync replicas. */
export async function localClusterStatus(opts: ClusterOptions = {}): Promise<ClusterStatus> {
  const { brokers, nodes } = clusterOf(opts);
  const status: ClusterStatus = { nodes: [], underReplicated: [] };
  for (const member of nodes) {
    status.nodes.push({ id: member.node.id, address: member.address, pid: pidOf(member.layout), answering: await nodeAnswers(member.address) });
  }
  status.controller = await activeController(brokers.filter((_, i) => status.nodes[i].answering));
  const admin = toolKafka('cluster-status', brokers).admin();
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
    for (const topic of metadata) {
      for (const p of topic.partitions) {
        if (p.isr.length < p.replicas.length) status.underReplicated.push({ topic: topic.name, partition: p.partitionId, replicas: p.replicas.length, inSync: p.isr.length });
      }
    }
  } catch {
    // No node answers: the nodes' lines say so.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return status;
}

/**
 * The leader of the KRaft quorum, from Kafka's own tool (DescribeQuorum): kafkajs' describeCluster names a
 * random broker as "controller" under KRaft, which is not the active controller.
 */
async function activeController(answering: string[]): Promise<number | undefined> {
  if (answering.length === 0) return undefined;
  const libs = await ensureClasspath(() => undefined);
  const result = await run(
    javaBinary(),
    ['-Xmx128m', ...TOOL_JVM_OPTIONS, '-cp', path.join(libs, '*'), 'org.apache.kafka.tools.MetadataQuorumCommand', '--bootstrap-server', answering.join(','), 'describe', '--status'],
    30_000,
  );
  const leader = /^LeaderId:\s+(\d+)/m.exec(result.output);
  return leader ? Number(leader[1]) : undefined;
}
