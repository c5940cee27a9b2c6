import type { TopicPartitionOffset } from 'kafkajs';
import { encodeFinished } from './offset-metadata';
import type { PartitionState } from './partition-state';
import { isFenced, type PartitionTransactions } from './partition-transactions';

/**
 * How a member hands the group what it has finished: one interface, one strategy per delivery guarantee. A
 * round commits what every given partition can commit (see PartitionState.committable) and never throws: a
 * failure is the strategy's to report.
 */
export interface CommitStrategy {
  commit(states: readonly PartitionState[]): Promise<void>;
}

/** What the strategies report to the service's metrics and logs. */
export interface CommitReports {
  /** At least once: a commit failed; what it carried stays to commit, and the next round tries again. */
  commitFailed?(error: unknown): void;
  /** Exactly once: a partition's transaction committed, with how many events of each topic it wrote. */
  committed?(state: PartitionState, sent: ReadonlyMap<string, number>): void;
  /** Exactly once: a partition's transaction failed or was fenced; nothing of it was written (or all of it). */
  transactionFailed?(state: PartitionState, error: unknown, fenced: boolean): void;
}

/**
 * At least once: the offsets alone, every partition in one request. A handler's events have left already,
 * so a crash before the commit only hands records to the next owner again (every store is idempotent).
 */
export class OffsetCommits implements CommitStrategy {
  constructor(
    private readonly send: (offsets: TopicPartitionOffset[]) => Promise<void>,
    private readonly reports: CommitReports = {},
  ) {}

  async commit(states: readonly PartitionState[]): Promise<void> {
    const work = states.flatMap((state) => {
      const committable = state.committable();
      return committable ? [{ state, next: committable.next }] : [];
    });
    if (work.length === 0) return;
    try {
      await this.send(work.map(({ state, next }) => ({ topic: state.topic, partition: state.partition, offset: next.toString() })));
    } catch (error) {
      this.reports.commitFailed?.(error);
      return;
    }
    for (const { state, next } of work) state.committedUpTo(next);
  }
}

/**
 * Exactly once: for each partition, one transaction with the events of its records done since the last one,
 * the offset of its first unfinished record, and, in the offset's metadata, the records done beyond it (as
 * Parallel Consumer does; see offset-metadata.ts). A transaction thus carries only the events of records whose
 * offsets it also marks consumed, and a record that finished behind a slow one need not wait for it: a new
 * owner skips the records the metadata names, so a takeover repeats no event and loses none.
 */
export class TransactionCommits implements CommitStrategy {
  constructor(
    private readonly transactions: PartitionTransactions,
    private readonly reports: CommitReports = {},
  ) {}

  async commit(states: readonly PartitionState[]): Promise<void> {
    await Promise.all(states.map((state) => this.commitOne(state)));
  }

  private async commitOne(state: PartitionState): Promise<void> {
    const committable = state.committable({ ahead: true });
    if (!committable) return;
    const staged = committable.records.flatMap((record) => record.staged);
    const metadata = encodeFinished(committable.next, committable.finished);
    try {
      await this.transactions.commit(state.topic, state.partition, staged, committable.next.toString(), metadata);
    } catch (error) {
      this.reports.transactionFailed?.(state, error, isFenced(error));
      return;
    }
    state.committedWith(committable, metadata);
    const sent = new Map<string, number>();
    for (const { topic, events } of staged) sent.set(topic, (sent.get(topic) ?? 0) + events.length);
    this.reports.committed?.(state, sent);
  }
}

/** Timers, so that a spec can drive them. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * When commits run: a tick `intervalMs` after something became committable (not at every record: records
 * finishing close together share a commit), one round at a time, and at once when asked (a rebalance begins,
 * the service stops). Idle, nothing ticks.
 */
export class CommitSchedule {
  private timer?: unknown;
  private last: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly round: () => Promise<void>,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Something became committable: a round runs within the interval. */
  request(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.now();
    }, this.intervalMs);
  }

  /** A round now, after the one under way; resolves when it ended. */
  now(): Promise<void> {
    this.last = this.last.then(() => this.round()).catch(() => undefined);
    return this.last;
  }

  /** No more ticks (requests are ignored); `now` still runs a round. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
