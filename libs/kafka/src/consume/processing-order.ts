import type { KafkaMessage } from 'kafkajs';

/**
 * In what order the records of one partition are handled (the names of Confluent's Parallel Consumer):
 * - `key`: side by side, except that records with the same key run one after another in offset order, which
 *   is the order Kafka promises per key;
 * - `partition`: one record at a time, in offset order (the course's consumer, whose slow step cannot overlap).
 */
export type ProcessingOrder = 'key' | 'partition';

/** The lane a record runs in: records of one lane run one after another. */
export function laneOf(order: ProcessingOrder, message: Pick<KafkaMessage, 'key'>): string {
  return order === 'partition' ? '' : (message.key?.toString('latin1') ?? '');
}

/**
 * Runs `handle` over a partition's records side by side, except that records of one lane (by default, one
 * key: one user) run one after another in offset order, as Kafka's per-key ordering promises. When a record
 * fails, the later records of its lane are not run: they fail with the same error, so that they are
 * redelivered after it rather than overtake it.
 *
 * Returns each record's outcome, in the records' order.
 */
export async function dispatchInLanes<T>(
  records: readonly T[],
  laneOf: (record: T) => string,
  handle: (record: T) => Promise<unknown>,
): Promise<PromiseSettledResult<unknown>[]> {
  const lanes = new Map<string, Promise<unknown>>();
  const outcomes = records.map((record) => {
    const lane = laneOf(record);
    const previous = lanes.get(lane) ?? Promise.resolve();
    const outcome = previous.then(() => handle(record));
    lanes.set(lane, outcome);
    return outcome;
  });
  return Promise.allSettled(outcomes);
}

/** How many leading records succeeded, and the error of the first that did not. */
export function firstFailure(outcomes: readonly PromiseSettledResult<unknown>[]): { succeeded: number; error?: unknown } {
  const index = outcomes.findIndex((outcome) => outcome.status === 'rejected');
  if (index < 0) return { succeeded: outcomes.length };
  return { succeeded: index, error: (outcomes[index] as PromiseRejectedResult).reason };
}
