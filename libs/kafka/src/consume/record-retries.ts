import { describeError, partitionKey as keyOf } from './topic-partition';

/** A record (and its key) held after it failed for a reason that is not the record's own. */
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


/** A partition with records held for retries: its oldest stall, and how many records of it are held. */
export interface PartitionStall extends Stall {
  records: number;
}

/**
 * The retries of one consumer, per record: a failing record holds its key (the other keys, and partitions, keep
 * flowing), and is tried again after an exponential backoff with jitter, until it succeeds or its time since
 * the first failure reaches the bound. What is stalled, and why, is what /health shows.
 */
export class RecordRetries {
  private readonly stalls = new Map<string, Stall>();

  constructor(
    private readonly options: BackoffOptions,
    private readonly now: () => number = () => Date.now(),
    private readonly random: () => number = Math.random,
  ) {}

  /** The record at `offset` failed again (or for the first time): records it, and says how long to wait. */
  failed(topic: string, partition: number, offset: string, error: unknown): number {
    const now = this.now();
    const key = recordKey(topic, partition, offset);
    const previous = this.stalls.get(key);
    const stall: Stall =
      previous
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

  /** How often the record at `offset` has failed so far. */
  attemptsOf(topic: string, partition: number, offset: string): number {
    return this.stalls.get(recordKey(topic, partition, offset))?.attempts ?? 0;
  }

  /** When the record at `offset` first failed, if it is being retried. */
  failingSince(topic: string, partition: number, offset: string): number | undefined {
    return this.stalls.get(recordKey(topic, partition, offset))?.since;
  }

  /**
   * The record at `offset` was handled at last (or dead-lettered): its stall is over. Returns the stall that
   * ended, so the loop can say the key recovered.
   */
  ended(topic: string, partition: number, offset: string): Stall | undefined {
    const key = recordKey(topic, partition, offset);
    const stall = this.stalls.get(key);
    if (stall) this.stalls.delete(key);
    return stall;
  }

  /** The partition was given up (its work is discarded): its stalls are no longer this member's. */
  forget(topic: string, partition: number): void {
    for (const [key, stall] of this.stalls) if (stall.topic === topic && stall.partition === partition) this.stalls.delete(key);
  }

  /** After a rebalance: the partitions this member no longer owns are no longer its to retry. */
  retain(assignment: Record<string, number[]>): void {
    for (const [key, { topic, partition }] of this.stalls) {
      if (!assignment[topic]?.includes(partition)) this.stalls.delete(key);
    }
  }

  /** Each partition with records held, by its oldest stall. */
  stalled(): PartitionStall[] {
    const byPartition = new Map<string, PartitionStall>();
    for (const stall of this.stalls.values()) {
      const key = keyOf(stall.topic, stall.partition);
      const known = byPartition.get(key);
      if (!known) byPartition.set(key, { ...stall, records: 1 });
      else if (stall.since < known.since) byPartition.set(key, { ...stall, records: known.records + 1 });
      else known.records += 1;
    }
    return [...byPartition.values()];
  }
}

function recordKey(topic: string, partition: number, offset: string): string {
  return `${keyOf(topic, partition)}@${offset}`;
}
