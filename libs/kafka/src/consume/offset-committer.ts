import type { TopicPartitionOffset } from 'kafkajs';
import { partitionKey as keyOf } from './topic-partition';

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
  private current = 0;

  constructor(
    private readonly commit: Commit,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /**
   * Counts the member's group generations (each join, each crash). A batch notes it when it starts: offsets
   * it reports after the member rejoined are dropped, as are failed commits of an earlier generation. Such an
   * offset may be older than what the partition's owner in between committed, and committing it would rewind
   * the partition.
   */
  get generation(): number {
    return this.current;
  }

  start(): void {
    // A tick while a commit is still retrying (coordinator away) adds nothing: the next tick after it will.
    this.timer ??= setInterval(() => this.flushing === 0 && void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Everything in this partition before `offset` (the next record to read) was handled in `generation`. */
  processed(topic: string, partition: number, offset: string, generation = this.current): void {
    if (generation !== this.current) return;
    const key = keyOf(topic, partition);
    const known = this.pending.get(key);
    if (known && BigInt(known.offset) >= BigInt(offset)) return;
    this.pending.set(key, { topic, partition, offset });
  }

  /**
   * The member joined its group again, or its consumer crashed: what is pending belongs to the old generation.
   * It is dropped, not committed: the records are delivered again (every store is idempotent), which is safe,
   * while an old offset committed late can rewind a partition another member has moved on since.
   */
  newGeneration(): void {
    this.current += 1;
    this.pending.clear();
  }

  /**
   * Commits what is pending, through `commit` unless given another way; one commit at a time. Failed
   * offsets stay pending, for the partitions still owned: unless newer ones came or the generation changed.
   */
  flush(commit: Commit = this.commit): Promise<void> {
    this.flushing += 1;
    this.last = this.last.then(async () => {
      if (this.pending.size === 0) return;
      const offsets = [...this.pending.values()];
      const generation = this.current;
      this.pending.clear();
      try {
        await commit(offsets);
      } catch (error) {
        for (const offset of offsets) {
          const key = keyOf(offset.topic, offset.partition);
          if (generation === this.current && !this.pending.has(key)) this.pending.set(key, offset);
        }
        this.onError(error);
      }
    }).finally(() => {
      this.flushing -= 1;
    });
    return this.last;
  }
}
