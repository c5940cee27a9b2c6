import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigResourceTypes, KafkaJSProtocolError, type Admin, type ITopicConfig } from 'kafkajs';
import { DLQ_TOPICS, TOPICS } from '@app/contracts';
import { DLQ_MAX_MESSAGE_BYTES } from './dead-letter';

export const DLQ_PARTITIONS = 1;

/**
 * Where `npm run dlq -- replay` records each letter it sent back, keyed `<dlq topic>:<partition>:<offset>`, in
 * the transaction that sends it: compacted, so it keeps one record per letter however often it is read.
 */
export const DLQ_REPLAYS_TOPIC = 'dlq-replays';

/** Every topic of the chain with the partitions and copies it should have. */
export function topicPlan(partitions: number, replicas = 1): ITopicConfig[] {
  return [
    ...Object.values(TOPICS).map((topic) => ({ topic, numPartitions: partitions, replicationFactor: replicas })),
    ...Object.values(DLQ_TOPICS).map((topic) => ({ topic, numPartitions: DLQ_PARTITIONS, replicationFactor: replicas, configEntries: DLQ_CONFIG })),
    { topic: DLQ_REPLAYS_TOPIC, numPartitions: 1, replicationFactor: replicas, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
  ];
}

/** Copies of every partition on a cluster of this many brokers: three (two in sync, set by the brokers) from three on. */
export function replicasFor(brokers: number): number {
  return Math.max(1, Math.min(3, brokers));
}

/** A dead letter holds its original whole, base64 if need be: DLQ topics take records twice the usual size. */
const DLQ_CONFIG = [{ name: 'max.message.bytes', value: String(DLQ_MAX_MESSAGE_BYTES) }];

export interface TopicReport {
  created: string[];
  /** Topics that exist with fewer partitions than asked for: they cap how many consumers get work. */
  short: { topic: string; partitions: number; wanted: number }[];
  /** Topics created earlier with fewer copies than the cluster now gives: losing a node may lose their records. */
  fewReplicas: { topic: string; replicas: number; wanted: number }[];
}

/**
 * Creates missing topics, with as many copies as the cluster's size calls for (replicasFor); existing ones are
 * left as they are, and reported when short of partitions or of copies.
 */
export async function ensureTopics(admin: Admin, partitions: number): Promise<TopicReport> {
  const replicas = replicasFor((await admin.describeCluster()).brokers.length);
  const plan = topicPlan(partitions, replicas);
  const existing = new Set(await admin.listTopics());
  const missing = plan.filter((spec) => !existing.has(spec.topic));
  // createTopics answers false, not an error, when another process (or its own first try) created them first.
  if (missing.length > 0) await onceKnown(() => admin.createTopics({ topics: missing, waitForLeaders: true }));
  await raiseDeadLetterLimits(admin);
  const { topics } = await onceKnown(() => admin.fetchTopicMetadata({ topics: plan.map((spec) => spec.topic) }));
  const short = topics.flatMap(({ name, partitions: have }) => {
    const wanted = plan.find((spec) => spec.topic === name)?.numPartitions ?? 0;
    return have.length < wanted ? [{ topic: name, partitions: have.length, wanted }] : [];
  });
  const fewReplicas = topics.flatMap(({ name, partitions: have }) => {
    const copies = Math.min(...have.map((p) => p.replicas.length));
    return copies < replicas ? [{ topic: name, replicas: copies, wanted: replicas }] : [];
  });
  return { created: missing.map((spec) => spec.topic), short, fewReplicas };
}

/** A warning for each topic short of partitions or of copies, saying what it costs and what to do. */
export function describeTopicReport(report: TopicReport): string[] {
  return [
    ...report.short.map(
      (entry) =>
        `topic "${entry.topic}" has ${entry.partitions} partition(s) but ${entry.wanted} are configured (TOPIC_PARTITIONS): ` +
        `at most ${entry.partitions} consumer(s) per group get work. ` +
        `Add partitions with \`npm run topics -- --partitions ${entry.wanted} --grow\` (keys may then map to new partitions).`,
    ),
    ...report.fewReplicas.map(
      (entry) =>
        `topic "${entry.topic}" keeps ${entry.replicas} copy(ies) of each partition but this cluster gives new topics ${entry.wanted}: ` +
        `losing the node that holds a copy loses its records. It was created before the cluster grew: ` +
        `recreate it, or add replicas with Kafka's kafka-reassign-partitions.`,
    ),
  ];
}

/** DLQ topics created before they were given their larger record limit get it now. */
async function raiseDeadLetterLimits(admin: Admin): Promise<void> {
  const { resources } = await onceKnown(() =>
    admin.describeConfigs({
      includeSynonyms: false,
      resources: Object.values(DLQ_TOPICS).map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['max.message.bytes'] })),
    }),
  );
  const low = resources.filter((r) => Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue ?? 0) < DLQ_MAX_MESSAGE_BYTES);
  if (low.length === 0) return;
  await onceKnown(() =>
    admin.alterConfigs({
      validateOnly: false,
      resources: low.map((r) => ({ type: ConfigResourceTypes.TOPIC, name: r.resourceName, configEntries: DLQ_CONFIG })),
    }),
  );
}

/**
 * On several nodes, a topic just created is known to the controller before every broker has its metadata, and
 * kafkajs sends a config or metadata request to any broker without retrying UNKNOWN_TOPIC_OR_PARTITION (its
 * createTopics waits for leaders but retries only LEADER_NOT_AVAILABLE): ask again a while.
 */
async function onceKnown<T>(request: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await request();
    } catch (error) {
      const unknown = error instanceof KafkaJSProtocolError && error.type === 'UNKNOWN_TOPIC_OR_PARTITION';
      if (!unknown || Date.now() >= deadline) throw error;
      await sleep(250);
    }
  }
}
