import type { Admin, KafkaMessage } from 'kafkajs';
import { currentRanges, scanRanges } from '../../scripts/lib/topic-scan';
import { waitFor } from '../../scripts/lib/wait';
import { testBrokers } from './environment';
import { caughtUp, testKafka, withAdmin } from './kafka';

/**
 * Reads topics from their beginning to the end they have now, read_committed (as the chain's consumers read:
 * records of aborted transactions are never seen), in a consumer group of its own that is deleted afterwards
 * (the DLQ tool's reader). Returns how many records it saw.
 */
export async function readTopics(
  topics: string[],
  visit: (topic: string, message: KafkaMessage) => void,
  brokers = testBrokers(),
  timeoutMs = 120_000,
): Promise<number> {
  const ranges = await withAdmin((admin) => currentRanges(admin, topics), brokers);
  let seen = 0;
  await scanRanges(testKafka('e2e-reader', brokers), ranges, (topic, _partition, message) => {
    seen += 1;
    visit(topic, message);
  }, timeoutMs);
  return seen;
}

/** Waits until a group has committed every record of the topics it reads (see caughtUp). */
export function groupCaughtUp(group: string, topics: string[], brokers = testBrokers(), timeoutMs = 180_000): Promise<void> {
  return withAdmin((admin: Admin) =>
    waitFor(() => caughtUp(admin, group, topics), { timeoutMs, intervalMs: 250, what: `${group} to commit everything of ${topics.join(', ')}` }),
  brokers).then(() => undefined);
}
