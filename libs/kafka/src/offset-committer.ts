import type { TopicPartitionOffset } from 'kafkajs';

const keyOf = (topic: string, partition: number) => `${topic}:${partition}`;

type Commit = (offsets: TopicPartitionOffset[]) => Promise<void>;

/**
 * Commits processed offsets on an interval, as Kafka's Java consumer does, instead of after every fetched
 * batch as kafkajs's auto-commit does: at a steady trickle a batch is one or two records, and a commit per
 * batch was a commit request per record. The consumer flushes it when it stops and when a rebalance begins,
 * so a member that leaves in order hands over nothing twice; after a crash, at most one interval of records
 * is delivered again, which the services absorb (each event is stored once).
 */
export class OffsetCommitter {
  private pending = new Map<string, TopicPartitionOffset>();
  private timer?: NodeJS.Timeout;
  private last: Promise<void> = Promise.resolve();
  private flushing = 0;
  /** Counts rebalances, so a commit that fails across one does not bring back partitions now owned by another member. */
  private generation = 0;

  constructor(
    private readonly commit: Commit,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  start(): void {
    // A tick while a commit is still retrying (coordinator away) adds nothing: the next tick after it will.
    this.timer ??= setInterval(() => this.flushing === 0 && void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Everything in this partition before `offset` (the next record to read) has been handled. */
  processed(topic: string, partition: number, offset: string): void {
    this.pending.set(keyOf(topic, partition), { topic, partition, offset });
  }

  /** After a rebalance: forgets partitions this member no longer owns, whose new owner now commits them. */
  retain(assignment: Record<string, number[]>): void {
    this.generation += 1;
    for (const [key, { topic, partition }] of this.pending) {
      if (!assignment[topic]?.includes(partition)) this.pending.delete(key);
    }
  }

  /**
   * Commits what is pending, through `commit` unless given another way; one commit at a time. Failed
   * offsets stay pending unless newer ones came or a rebalance happened meanwhile.
   */
  flush(commit: Commit = this.commit): Promise<void> {
    this.flushing += 1;
    this.last = this.last.then(async () => {
      if (this.pending.size === 0) return;
      const offsets = [...this.pending.values()];
      const generation = this.generation;
      this.pending.clear();
      try {
        await commit(offsets);
      } catch (error) {
        for (const offset of offsets) {
          const key = keyOf(offset.topic, offset.partition);
          if (generation === this.generation && !this.pending.has(key)) this.pending.set(key, offset);
        }
        this.onError(error);
      }
    }).finally(() => {
      this.flushing -= 1;
    });
    return this.last;
  }
}
