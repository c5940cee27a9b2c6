import { randomUUID } from 'node:crypto';
import type { Admin, ConsumerEndBatchProcessEvent, KafkaMessage } from 'kafkajs';
import { waitFor } from '../../scripts/lib/wait';
import { testBrokers } from './environment';
import { testKafka, withAdmin } from './kafka';

/**
 * Reads topics from their beginning to the end they have now, read_committed (as the chain's consumers read:
 * records of aborted transactions are never seen), in a consumer group of its own that is deleted afterwards.
 * Returns how many records it saw.
 */
export async function readTopics(
  topics: string[],
  visit: (topic: string, message: KafkaMessage) => void,
  brokers = testBrokers(),
  timeoutMs = 120_000,
): Promise<number> {
  const ends = await withAdmin(async (admin) => {
    const result = new Map<string, bigint>();
    for (const topic of topics) {
      for (const { partition, high } of await admin.fetchTopicOffsets(topic)) if (BigInt(high) > 0n) result.set(`${topic}:${partition}`, BigInt(high));
    }
    return result;
  }, brokers);
  const groupId = `e2e-reader-${randomUUID()}`;
  const consumer = testKafka('e2e-reader', brokers).consumer({ groupId, maxBytesPerPartition: 4 * 1024 * 1024 });
  const reached = new Map<string, bigint>();
  let seen = 0;
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }: ConsumerEndBatchProcessEvent) => {
    reached.set(`${payload.topic}:${payload.partition}`, BigInt(payload.lastOffset) + 1n);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        seen += 1;
        visit(topic, message);
      },
    });
    await waitFor(() => [...ends].every(([key, end]) => (reached.get(key) ?? 0n) >= end), {
      timeoutMs,
      intervalMs: 100,
      what: `reading ${topics.join(', ')} to their end`,
    });
  } finally {
    await consumer.disconnect();
    await withAdmin((admin) => admin.deleteGroups([groupId]), brokers).catch(() => undefined);
  }
  return seen;
}

/**
 * Waits until a group has committed every record of the topics it reads: read from the broker's own offsets,
 * independently of the services' lag reports.
 */
export function groupCaughtUp(group: string, topics: string[], brokers = testBrokers(), timeoutMs = 180_000): Promise<void> {
  return withAdmin((admin: Admin) =>
    waitFor(async () => {
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        for (const { partition, high } of ends) {
          const offset = committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
          if (BigInt(high) > 0n && BigInt(offset) < BigInt(high)) return false;
        }
      }
      return true;
    }, { timeoutMs, intervalMs: 250, what: `${group} to commit everything of ${topics.join(', ')}` }),
  brokers).then(() => undefined);
}
