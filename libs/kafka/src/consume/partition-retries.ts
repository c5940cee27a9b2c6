import { describeError, partitionKey as keyOf } from './topic-partition';

/** A partition held at a record that failed for a reason that is not the record's own. */
export interface Stall {
  topic: string;
  partition: number;
  /** The record being retried. */
  offset: string;
  /** When it first failed (epoch ms): the retry bound counts from here. */
  since: number;
  attempts: number;
  lastError: string;
  /** When it is tried next (epoch ms). */
  nextAttemptAt: number;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** The retry bound (RETRY_MAX_MS): the last wait ends at it, so the record is then tried one final time. */
  boundMs: number;
}


/**
 * The retries of one consumer, per partition: a failing record holds its partition (the others keep flowing),
 * and is tried again after an exponential backoff with jitter, until it succeeds or its time since the first
 * failure reaches the bound. What is stalled, and why, is what /health shows.
 */
export class PartitionRetries {
  private readonly stalls = new Map<string, Stall>();

  constructor(
    private readonly options: BackoffOptions,
    private readonly now: () => number = () => Date.now(),
    private readonly random: () => number = Math.random,
  ) {}

  /** The record at `offset` failed again (or for the first time): records it, and says how long to wait. */
  failed(topic: string, partition: number, offset: string, error: unknown): number {
    const now = this.now();
    const key = keyOf(topic, partition);
    const previous = this.stalls.get(key);
    const stall: Stall =
      previous && previous.offset === offset
        ? { ...previous, attempts: previous.attempts + 1 }
        : { topic, partition, offset, since: now, attempts: 1, lastError: '', nextAttemptAt: now };
    stall.lastError = describeError(error);
    const exponential = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(stall.attempts - 1, 30));
    // Half fixed, half random: instances retrying the same outage do not all come back at once.
    const jittered = exponential / 2 + (this.random() * exponential) / 2;
    // The last wait before the bound ends at it, so the record is then tried a final time (and parked if it
    // fails). Past the bound, a failure that parking cannot end (one outside the handler) keeps its backoff.
    const untilBound = stall.since + this.options.boundMs - now;
    const delay = Math.round(untilBound > 0 ? Math.min(jittered, untilBound) : jittered);
    stall.nextAttemptAt = now + delay;
    this.stalls.set(key, stall);
    return delay;
  }

  /** When the record at `offset` first failed, if it is being retried. */
  failingSince(topic: string, partition: number, offset: string): number | undefined {
    const stall = this.stalls.get(keyOf(topic, partition));
    return stall?.offset === offset ? stall.since : undefined;
  }

  /**
   * The partition's offset has moved to `next`: a stall below it is over. Returns the stall that ended, so
   * the loop can say the partition recovered.
   */
  passed(topic: string, partition: number, next: string): Stall | undefined {
    const key = keyOf(topic, partition);
    const stall = this.stalls.get(key);
    if (!stall || BigInt(stall.offset) >= BigInt(next)) return undefined;
    this.stalls.delete(key);
    return stall;
  }

  /** After a rebalance: the partitions this member no longer owns are no longer its to retry. */
  retain(assignment: Record<string, number[]>): void {
    for (const [key, { topic, partition }] of this.stalls) {
      if (!assignment[topic]?.includes(partition)) this.stalls.delete(key);
    }
  }

  stalled(): Stall[] {
    return [...this.stalls.values()];
  }
}
