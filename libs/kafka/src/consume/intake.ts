import type { KafkaMessage } from 'kafkajs';
import { PartitionState, type HeldRecord } from './partition-state';
import { partitionKey as keyOf } from './topic-partition';

/** What the intake needs of the consumer. */
export interface IntakeControl {
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
  /** Fetch this partition from `offset` next. */
  seek(topic: string, partition: number, offset: string): void;
}

/** A fetched batch, as kafkajs hands it to `eachBatch`. */
export interface FetchedBatch {
  topic: string;
  partition: number;
  /** The offset the fetch asked for: where the partition's position stood. */
  fetchedOffset: string;
  messages: KafkaMessage[];
  /** The batch's last offset, which may lie past its last record (a transaction's markers). */
  lastOffset: string;
}

/** Back-pressure: a partition holding more records than `highWater` is paused, and resumed below `lowWater`. */
export interface HoldLimits {
  highWater: number;
  lowWater: number;
}

/**
 * Takes fetched records into their PartitionState and hands the new ones on, so that `eachBatch` returns at
 * once: kafkajs fetches again from a broker only once every batch it handed out has returned, so a batch held
 * while its records run would hold every partition of that broker.
 *
 * A partition whose records are not committed yet piles up: above the high-water mark it is paused, below the
 * low one resumed. kafkajs applies a pause at its next fetch (a fetch under way still delivers), so the mark is
 * a soft bound.
 */
export class Intake {
  private readonly states = new Map<string, PartitionState>();
  private readonly pausedByPressure = new Set<string>();

  constructor(
    private readonly control: IntakeControl,
    private readonly limits: HoldLimits,
  ) {}

  /** The partitions taken in, in the current generation or waiting to be confirmed in it. */
  all(): PartitionState[] {
    return [...this.states.values()];
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.states.get(keyOf(topic, partition));
  }

  /** Partitions paused because they hold too many records. */
  get paused(): number {
    return this.pausedByPressure.size;
  }

  /**
   * Begins a partition afresh at `start` (the offset the group holds) in `generation`, in place of any state it
   * held (whose work the engine has given up before).
   */
  begin(
    topic: string,
    partition: number,
    start: bigint,
    generation: number,
    finished?: ReadonlySet<bigint>,
    metadata?: string,
  ): PartitionState {
    const state = new PartitionState(topic, partition, start, generation, finished, metadata);
    this.states.set(keyOf(topic, partition), state);
    return state;
  }

  /** Forgets a partition (given up); returns its state. */
  remove(topic: string, partition: number): PartitionState | undefined {
    const key = keyOf(topic, partition);
    const state = this.states.get(key);
    this.states.delete(key);
    if (this.pausedByPressure.delete(key)) this.control.resume(topic, partition);
    return state;
  }

  /**
   * Takes a batch into `state`: the records not taken before, which are returned. A batch that begins past the
   * state's end (the position moved on without it) is not taken: the partition is fetched again from the end.
   */
  take(state: PartitionState, batch: FetchedBatch): HeldRecord[] | undefined {
    if (BigInt(batch.fetchedOffset) > state.end) {
      this.control.seek(state.topic, state.partition, state.end.toString());
      return undefined;
    }
    const taken = state.take(batch.messages, batch.lastOffset);
    this.balance(state);
    return taken;
  }

  /** Pauses or resumes a partition by what it holds (after records were taken, or committed). */
  balance(state: PartitionState): void {
    const key = keyOf(state.topic, state.partition);
    if (this.states.get(key) !== state) return;
    if (state.held > this.limits.highWater && !this.pausedByPressure.has(key)) {
      this.pausedByPressure.add(key);
      this.control.pause(state.topic, state.partition);
    } else if (state.held < this.limits.lowWater && this.pausedByPressure.delete(key)) {
      this.control.resume(state.topic, state.partition);
    }
  }

  /** A new assignment: kafkajs keeps pauses across rebalances, and those of back-pressure start over. */
  resetPressure(): void {
    for (const key of this.pausedByPressure) {
      const state = this.states.get(key);
      if (state) this.control.resume(state.topic, state.partition);
    }
    this.pausedByPressure.clear();
  }
}
