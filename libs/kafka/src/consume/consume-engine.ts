import type { Logger } from '@nestjs/common';
import { CommitSchedule, realTimers, type CommitStrategy, type Timers } from './commits';
import type { EngineLoad } from './consumer-state';
import type { FetchedBatch, Intake, IntakeControl } from './intake';
import { KeyScheduler } from './key-scheduler';
import { decodeFinished } from './offset-metadata';
import type { PartitionOwnership } from './partition-ownership';
import type { HeldRecord, PartitionState } from './partition-state';
import type { ProcessingOrder } from './processing-order';
import type { RecordRetries } from './record-retries';
import type { RecordOutcome, RecordRunner } from './record-runner';
import { describeError, partitionKey as keyOf } from './topic-partition';

/** The engine's settings (see docs/consumers.md). */
export interface EngineSettings {
  order: ProcessingOrder;
  /** Most records running at once on this instance, over all its partitions. */
  maxInFlight: number;
  /** How soon after a record finishes its offset is committed (with the others finished meanwhile). */
  commitIntervalMs: number;
}

/** What the engine reports to the service's metrics. */
export interface EngineTelemetry {
  /** A record failed, not by its own fault, and will be tried again. */
  retried(topic: string): void;
}

/** The parts the engine drives; each is a class of its own, with its own spec. */
export interface EngineParts {
  intake: Intake;
  ownership: PartitionOwnership;
  runner: RecordRunner;
  commits: CommitStrategy;
  retries: RecordRetries;
  /** The consumer's controls: a partition's fetch position (after its work was given up, it is fetched again from its commit), pauses. */
  control: IntakeControl;
  logger: Pick<Logger, 'log' | 'warn'>;
  telemetry?: EngineTelemetry;
  timers?: Timers;
}

/**
 * The consume engine: Parallel Consumer's design on kafkajs. Fetched records are taken in at once (Intake),
 * held per partition until committed (PartitionState), run side by side in their key's lane (KeyScheduler)
 * through Nest's pipeline (RecordRunner); a record that fails, not by its own fault, holds its key alone and
 * is tried again after a backoff (RecordRetries). A tick commits what is done (CommitStrategy: offsets at least
 * once, one transaction per partition exactly once), and the group's generations and claims decide what may
 * be committed at all (PartitionOwnership).
 */
export class ConsumeEngine implements EngineLoad {
  private readonly scheduler: KeyScheduler<HeldRecord>;
  private readonly schedule: CommitSchedule;
  private readonly timers: Timers;
  private readonly retryTimers = new Set<unknown>();
  private closing = false;
  /** Partitions whose take-over failed, at the offset their stall is recorded under. */
  private readonly takeOverFailures = new Map<string, string>();
  private drained?: () => void;

  constructor(
    private readonly parts: EngineParts,
    private readonly settings: EngineSettings,
  ) {
    this.timers = parts.timers ?? realTimers;
    this.scheduler = new KeyScheduler<HeldRecord>(settings.maxInFlight, (record, lane) => void this.run(record, lane));
    this.schedule = new CommitSchedule(settings.commitIntervalMs, () => this.commitRound(), this.timers);
  }

  /** Records running now. */
  get inFlight(): number {
    return this.scheduler.inFlight;
  }

  /** Records taken and waiting for their key's lane or a free place. */
  get waiting(): number {
    return this.scheduler.waiting;
  }

  /** Partitions paused because they hold too many records (back-pressure). */
  get pausedByPressure(): number {
    return this.parts.intake.paused;
  }

  /** Each partition's records taken and not yet committed. */
  held(): Array<{ topic: string; partition: number; records: number }> {
    return this.parts.intake.all().map((s) => ({ topic: s.topic, partition: s.partition, records: s.held }));
  }

  /**
   * A fetched batch (`eachBatch`): its new records are taken and started, and the call returns without waiting
   * for them. Returns false when the batch was not taken (it must not be resolved: it comes again).
   */
  async take(batch: FetchedBatch): Promise<boolean> {
    const { topic, partition } = batch;
    const { intake, ownership } = this.parts;
    if (this.closing || ownership.isFenced(topic, partition)) return false;
    let state = intake.get(topic, partition);
    if (!state || state.generation !== ownership.generation) {
      state = await this.confirm(batch, state);
      if (!state) return false;
    }
    const taken = intake.take(state, batch);
    if (!taken) return false;
    for (const record of taken) this.scheduler.add(this.laneOf(record), keyOf(topic, partition), record);
    // Records an earlier owner finished are done as they are taken: the offset may move past them now.
    if (taken.length < batch.messages.length) this.schedule.request();
    return true;
  }

  /**
   * The first batch of a partition in a generation: the group's offset says whether the state held from an
   * earlier generation is still true (nobody committed meanwhile: its work goes on and is not repeated) or must
   * begin again there.
   */
  private async confirm(batch: FetchedBatch, held: PartitionState | undefined): Promise<PartitionState | undefined> {
    const { topic, partition } = batch;
    const generation = this.parts.ownership.generation;
    let offset: bigint;
    let metadata: string;
    try {
      ({ offset, metadata } = await this.parts.ownership.groupOffset(topic, partition, batch.fetchedOffset));
    } catch (error) {
      if (!this.closing) this.retryConfirm(batch, error);
      return undefined;
    }
    const failedAt = this.takeOverFailures.get(keyOf(topic, partition));
    if (failedAt !== undefined) {
      this.takeOverFailures.delete(keyOf(topic, partition));
      this.parts.retries.ended(topic, partition, failedAt);
    }
    // A rebalance came meanwhile: the next batch confirms again.
    if (generation !== this.parts.ownership.generation || this.closing) return undefined;
    const current = this.parts.intake.get(topic, partition);
    if (current && current === held && !current.revoked && current.committed === offset && current.committedMetadata === metadata) {
      current.generation = generation;
      // What it finished while unconfirmed may be committed now.
      this.schedule.request();
      return current;
    }
    if (current) this.giveUp(current);
    if (held && offset > held.committed) {
      this.parts.logger.log(`${topic}[${partition}]: the group's offset moved to ${offset} meanwhile; resuming from there`);
    }
    const finished = decodeFinished(offset, metadata);
    if (finished.size > 0) this.parts.logger.log(`${topic}[${partition}]: ${finished.size} record(s) past ${offset} were finished by the previous owner; skipping them`);
    return this.parts.intake.begin(topic, partition, offset, generation, finished, metadata);
  }

  /** Claiming the partition or reading its offset failed (the broker is away): the partition waits, then tries again. */
  private retryConfirm(batch: FetchedBatch, error: unknown): void {
    const { topic, partition, fetchedOffset } = batch;
    this.takeOverFailures.set(keyOf(topic, partition), fetchedOffset);
    // Shown stalled on /health; not a record's retry (kafka_handler_retries_total counts those only).
    const delay = this.parts.retries.failed(topic, partition, fetchedOffset, error);
    this.parts.logger.warn(`${topic}[${partition}]@${fetchedOffset}: taking the partition over failed (${describeError(error)}); partition paused, retrying in ${delay} ms`);
    this.parts.control.pause(topic, partition);
    const timer = this.timers.setTimeout(() => {
      this.retryTimers.delete(timer);
      this.parts.control.resume(topic, partition);
    }, delay);
    this.retryTimers.add(timer);
  }

  /** Transaction markers alone (read_committed hides them): the partition's end moves past them. */
  passControlRecords(topic: string, partition: number, lastOffset: string): void {
    const state = this.parts.intake.get(topic, partition);
    if (!state || state.revoked || state.generation !== this.parts.ownership.generation) return;
    state.take([], lastOffset);
    this.schedule.request();
  }

  private laneOf(record: HeldRecord): string {
    const partition = keyOf(record.state.topic, record.state.partition);
    if (this.settings.order === 'partition' || record.message.key == null) return partition;
    return `${partition}|${record.message.key.toString('latin1')}`;
  }

  private async run(record: HeldRecord, lane: string): Promise<void> {
    const { state, message } = record;
    const outcome = await this.parts.runner.run({ topic: state.topic, partition: state.partition, message });
    if (outcome.kind === 'failed' && !state.revoked && !this.closing) this.holdForRetry(record, lane, outcome.error);
    else this.finish(record, lane, outcome);
    if (this.drained && this.scheduler.inFlight === 0) this.drained();
  }

  private finish(record: HeldRecord, lane: string, outcome: RecordOutcome): void {
    const { state } = record;
    this.scheduler.finished(lane);
    if (state.revoked || outcome.kind === 'failed') return;
    state.complete(record, outcome.staged);
    const recovered = this.parts.retries.ended(state.topic, state.partition, record.offset);
    if (recovered) {
      const seconds = ((Date.now() - recovered.since) / 1000).toFixed(1);
      this.parts.logger.log(`${state.topic}[${state.partition}]@${record.offset} handled after ${recovered.attempts} retries (${seconds} s): its key flows again`);
    }
    this.schedule.request();
  }

  /** The record's key waits (the others go on), and the record is tried again after the backoff. */
  private holdForRetry(record: HeldRecord, lane: string, error: unknown): void {
    const { state } = record;
    const delay = this.parts.retries.failed(state.topic, state.partition, record.offset, error);
    const attempts = this.parts.retries.attemptsOf(state.topic, state.partition, record.offset);
    this.parts.telemetry?.retried(state.topic);
    // Every record of an outage fails at once: the first failure of each and every tenth attempt are logged.
    if (attempts === 1 || attempts % 10 === 0) {
      this.parts.logger.warn(
        `${state.topic}[${state.partition}]@${record.offset} failed, not by its own fault (attempt ${attempts}): ${describeError(error)}; ` +
          `its key waits, retrying in ${delay} ms`,
      );
    }
    this.scheduler.failed(lane);
    const timer = this.timers.setTimeout(() => {
      this.retryTimers.delete(timer);
      this.scheduler.retry(lane, record);
    }, delay);
    this.retryTimers.add(timer);
  }

  /** One commit round, over the partitions confirmed in this generation. */
  private async commitRound(): Promise<void> {
    const { intake, ownership, commits } = this.parts;
    const states = intake.all().filter((s) => !s.revoked && s.generation === ownership.generation);
    await commits.commit(states);
    for (const state of states) intake.balance(state);
  }

  /** Commits what is done now (a rebalance begins); best effort. */
  commitNow(): Promise<void> {
    return this.schedule.now();
  }

  /**
   * The group gave this member a new assignment (a new generation): partitions no longer its own are given up;
   * those it keeps wait for their next batch to be confirmed (see confirm), their records running meanwhile.
   */
  joined(assignment: Record<string, number[]>): Promise<void> {
    const claiming = this.parts.ownership.joined(assignment);
    this.parts.intake.resetPressure();
    for (const state of this.parts.intake.all()) {
      if (!assignment[state.topic]?.includes(state.partition)) this.giveUp(state);
    }
    this.parts.retries.retain(assignment);
    return claiming;
  }

  /** The consumer crashed: nothing is committed until its partitions are confirmed after the rejoin. */
  crashed(): void {
    this.parts.ownership.crashed();
  }

  /** A heartbeat was accepted (partitions left alone after a failed transaction may be this member's still). */
  heartbeat(): void {
    for (const { topic, partition } of this.parts.ownership.heartbeat()) {
      this.parts.logger.log(`${topic}[${partition}]: the group confirms this member still owns it; claiming it again`);
    }
  }

  /**
   * A partition's transaction failed: nothing of it was written, or, if the commit's answer was lost, all of
   * it. Its work is given up, and it waits until the group confirms this member still owns it, then is claimed
   * afresh and its offset read again: a member cut off long enough to lose it must not claim it back.
   */
  transactionFailed(state: PartitionState, error: unknown, fenced: boolean): void {
    if (this.closing || state.revoked || this.parts.intake.get(state.topic, state.partition) !== state) return;
    // A transaction of an earlier generation, aborted by this member's own claim at the join: nothing to do.
    if (state.generation !== this.parts.ownership.generation) return;
    this.giveUp(state);
    this.parts.ownership.fence(state.topic, state.partition);
    this.parts.control.seek(state.topic, state.partition, state.committed.toString());
    // Shown stalled until the partition is taken over again.
    this.takeOverFailures.set(keyOf(state.topic, state.partition), state.committed.toString());
    // Counted as an aborted transaction (kafka_transactions_total), not as a record's retry.
    this.parts.retries.failed(state.topic, state.partition, state.committed.toString(), error);
    const why = fenced ? 'was fenced (another member claimed the partition)' : `failed: ${describeError(error)}`;
    this.parts.logger.warn(
      `${state.topic}[${state.partition}]: its transaction ${why}; the uncommitted work is discarded, waiting for the group to confirm the owner`,
    );
  }

  /** A partition's work is given up: nothing of it commits, its waiting records are dropped. */
  private giveUp(state: PartitionState): void {
    state.revoked = true;
    this.parts.intake.remove(state.topic, state.partition);
    this.scheduler.drop(keyOf(state.topic, state.partition));
    this.parts.retries.forget(state.topic, state.partition);
  }

  /**
   * Stopping: no record starts any more; those running may end within `graceMs`; then what is done is
   * committed, within the grace again: past it `giveUp` is called (writes waiting on a broker that is gone must
   * stop waiting). Records not started are left to the next owner.
   */
  async drain(graceMs: number, giveUp: () => void = () => undefined): Promise<void> {
    this.closing = true;
    this.scheduler.stop();
    this.schedule.stop();
    for (const timer of this.retryTimers) this.timers.clearTimeout(timer);
    this.retryTimers.clear();
    if (this.scheduler.inFlight > 0) {
      let timer: unknown;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = this.timers.setTimeout(resolve, graceMs);
      });
      this.timers.clearTimeout(timer);
    }
    // The last commit, bounded too: with the broker away it would wait on it for as long as it is away.
    const bound = this.timers.setTimeout(giveUp, graceMs);
    let late: unknown;
    await Promise.race([this.schedule.now(), new Promise<void>((resolve) => (late = this.timers.setTimeout(resolve, graceMs + 100)))]);
    this.timers.clearTimeout(bound);
    this.timers.clearTimeout(late);
  }
}
