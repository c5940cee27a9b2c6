import { Logger } from '@nestjs/common';
import { KafkaParser, ServerKafka, type MessageHandler } from '@nestjs/microservices';
import type { Admin, Consumer, ConsumerCrashEvent, ConsumerEndBatchProcessEvent, Kafka, ConsumerGroupJoinEvent, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { ConsumerState } from './consume/consumer-state';
import { KeepAlive } from './consume/keep-alive';
import { OffsetCommitter } from './consume/offset-committer';
import { PartitionProgress } from './consume/partition-progress';
import { isFenced, PartitionTransactions } from './consume/partition-transactions';
import { RecordScope, runInRecordScope } from './consume/record-scope';
import { describeError, parsePartitionKey, partitionKey as keyOf } from './consume/topic-partition';
import { dispatchInLanes, firstFailure, laneOf, type ProcessingOrder } from './consume/processing-order';
import type { KafkaServerOptions } from './kafka-config';
import { copyUndecodableMark } from './undecodable-batches';
import { headersAsWritten } from './record-headers';
import { headerOf } from './kafka-event';
import { REQUEST_ID_HEADER, withCorrelation } from '@app/platform';

export interface ConsumeOptions {
  /** See ProcessingOrder: `partition` with the course's slow step (PROCESSING_DELAY_MS), `key` otherwise. */
  order: ProcessingOrder;
  /**
   * Exactly once between topics: the events a slice of records caused and the slice's offset are written in one
   * Kafka transaction (see PartitionTransactions). Otherwise events leave at once and offsets are committed on
   * an interval (at least once; the stores make a redelivery harmless).
   */
  transactional: boolean;
  telemetry?: ConsumerTelemetry;
}

/** What the loop reports to the service's metrics. */
export interface ConsumerTelemetry {
  /** A record failed, not by its own fault, and will be tried again. */
  retried(topic: string): void;
  /** Events a transaction wrote, once it committed. */
  sent(topic: string, count: number): void;
  /** A slice's transaction, for records of this topic, committed or was given up (aborted, or fenced). */
  transaction(topic: string, outcome: 'committed' | 'aborted'): void;
  /** The group began a rebalance that this member takes part in. */
  rebalanced(): void;
  /** kafkajs crashed the consumer (it restarts it, or the service does). */
  crashed(): void;
}

/** Most records of one partition's batch in one slice: handled at once with `key` order, and committed together. */
const RECORDS_IN_FLIGHT = 250;
/**
 * With `partition` order (one record at a time, a slow step), a slice ends after this long: its transaction
 * then commits what is done. Longer amortises a transaction's round trips over more records; shorter shows
 * each order sooner.
 */
const SLOW_SLICE_MS = 500;
/** How often handled offsets are committed (see OffsetCommitter): the most a crash repeats, and how stale lag reports can be. */
const COMMIT_INTERVAL_MS = 200;
/** How long a stopping service waits for the transaction of the batch in hand. */
const CLOSE_GRACE_MS = 5000;
/** How long after kafkajs gives up on the consumer it is started again, in this process. */
const RESTART_DELAY_MS = 5000;

/** Why the rest of a batch was not handled: the consumer is stopping, or a rebalance or seek moved on. */
class BatchAbandoned extends Error {
  override name = 'BatchAbandoned';
}

/** One record at a time, a slice ends here, so the records done so far are committed. */
class SliceFull extends Error {
  override name = 'SliceFull';
}

/** A record's handler failed for a reason that is not the record's own: it is retried (see DeadLetterInterceptor). */
class HandlerFailed extends Error {
  override name = 'HandlerFailed';

  constructor(readonly reason: unknown) {
    super('the handler failed');
  }
}

/**
 * Nest's parser turns keys and header values into text, which loses any byte that is not UTF-8. Handlers decode
 * the value themselves (see @KafkaEvent), so records reach them as they came, headers as they were written
 * (see headersAsWritten): a dead letter keeps them exactly.
 */
class BytesAsTheyCame extends KafkaParser {
  override parse<T = KafkaMessage>(data: KafkaMessage): T {
    return copyUndecodableMark(data, { ...data, headers: headersAsWritten(data.headers) }) as T;
  }
}

interface Record_ {
  message: KafkaMessage;
  index: number;
}

/**
 * Nest's Kafka server, consuming batch by batch, plus what Nest does not surface: the partitions each
 * rebalance assigns (logged, as the course's scaling demo needs to show), retries, and crashes.
 *
 * The loop, for each fetched batch of a partition (its parts are in consume/):
 * - the records go through Nest's usual per-message pipeline (pipes, the dead-letter interceptor) side by side
 *   in their ProcessingOrder, a slice at a time, so the statements and produce requests they make coalesce
 *   (see Coalescer); each runs in a RecordScope;
 * - PartitionProgress moves the offset over the leading records that are done. Exactly once, each slice then
 *   ends in one transaction with the events those records published and their offset (PartitionTransactions);
 *   at least once, OffsetCommitter commits on an interval. KeepAlive heartbeats while the batch runs;
 * - a record that fails for a reason that is not its own (the interceptor dead-letters those that are) holds
 *   its partition: the partition is paused, the record retried after a backoff (PartitionRetries), and the
 *   other partitions keep flowing. Nothing is thrown to kafkajs, so no consumer crash and no rebalance.
 */
export class MonitoredKafkaServer extends ServerKafka {
  private readonly monitorLogger: Logger;
  private committer?: OffsetCommitter;
  private transactions?: PartitionTransactions;
  /** Reads committed offsets in takeOver; connected once, when first needed. */
  private offsetsAdmin?: Promise<Admin>;
  /** The same admin once connected: only then does closing wait for its disconnect. */
  private offsetsAdminReady?: Admin;
  private readonly handlers = new Map<string, MessageHandler>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  private restartTimer?: NodeJS.Timeout;
  /** Counts this member's joins: what was checked for a partition holds until the next rebalance. */
  private generation = 0;
  /** Partitions whose offset was checked after claiming them in this generation, and the generation. */
  private readonly checked = new Map<string, number>();
  /**
   * Partitions whose producer was fenced, and when: left alone until the group confirms who owns them, by a new
   * assignment or by a heartbeat sent after that moment and accepted (then this member is current, and the
   * partition still its own: its own transaction was aborted, on timeout). kafkajs sends one heartbeat at a
   * time, so the second accepted after the fencing was surely sent after it.
   */
  private readonly fenced = new Map<string, { since: number; beats: number }>();

  constructor(
    options: KafkaServerOptions,
    private readonly state: ConsumerState,
    private readonly label: string,
    private readonly consume: ConsumeOptions = { order: 'key', transactional: false },
  ) {
    super(options);
    this.parser = new BytesAsTheyCame();
    this.monitorLogger = new Logger(`Consumer ${label}`);
  }

  /**
   * Nest looks the handler up twice per message, each time first trying the topic name as JSON and catching
   * the SyntaxError: in a burst that was 4 to 6 % of a consumer's CPU (bench profile). Topics and handlers are
   * fixed once the server listens, so each topic is looked up once.
   */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    const known = this.handlers.get(pattern);
    if (known) return known;
    const handler = super.getHandlerByPattern(pattern);
    if (handler) this.handlers.set(pattern, handler);
    return handler;
  }

  /** Nest's client is kafkajs' own, typed by Nest's narrower copy of kafkajs' declarations. */
  private get kafka(): Kafka {
    return this.client as unknown as Kafka;
  }

  override async bindEvents(consumer: Consumer): Promise<void> {
    const topics = [...this.messageHandlers.keys()];
    if (topics.length > 0) await consumer.subscribe({ ...this.options.subscribe, topics });
    if (this.consume.transactional) {
      this.transactions ??= new PartitionTransactions(this.kafka, this.groupId);
    } else {
      this.committer ??= new OffsetCommitter((offsets) => this.consumer!.commitOffsets(offsets), COMMIT_INTERVAL_MS, (error) =>
        this.monitorLogger.warn(`offset commit failed, it will be retried: ${(error as Error).message}`),
      );
    }
    await consumer.run({ ...this.options.run, eachBatchAutoResolve: false, eachBatch: (payload) => this.handleBatch(payload) });
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, resolveOffset, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    if (this.fenced.has(keyOf(topic, partition))) {
      payload.pause();
      return;
    }
    if (this.transactions && !(await this.takeOver(payload))) return;
    const transactional = this.transactions !== undefined;
    const committer = this.committer;
    const generation = committer?.generation ?? 0;
    const progress = new PartitionProgress(
      batch.messages.map((m) => m.offset),
      batch.lastOffset(),
    );
    const scopes = batch.messages.map((message) => new RecordScope(transactional));
    // At least once: offsets move as records finish, and are committed on the interval.
    const advance = () => {
      const moved = progress.advance();
      if (!moved || !committer) return;
      resolveOffset(moved.handled);
      committer.processed(topic, partition, moved.next, generation);
      this.noteRecovery(topic, partition, moved.next);
    };
    // Exactly once: what the leading done records published, and their offset, in one transaction.
    let committed = 0;
    const commitDone = async (): Promise<boolean> => {
      const moved = progress.advance();
      if (!moved) return true;
      const done = scopes.slice(committed, progress.leadingDone);
      const staged = done.flatMap((scope) => scope.staged);
      try {
        await this.transactions!.commit(topic, partition, staged, moved.next);
      } catch (error) {
        // Stopping, a write given up on is expected, not a failure: the next owner takes the records up.
        if (this.state.closing) return false;
        this.transactionFailed(payload, batch.messages[committed].offset, error);
        this.consume.telemetry?.transaction(topic, 'aborted');
        return false;
      }
      this.consume.telemetry?.transaction(topic, 'committed');
      committed = progress.leadingDone;
      resolveOffset(moved.handled);
      for (const { topic: written, events } of staged) this.consume.telemetry?.sent(written, events.length);
      this.noteRecovery(topic, partition, moved.next);
      return true;
    };
    // A failed beat (most often: a rebalance has begun) starts no more records, so the group is rejoined in
    // time and the rest of the batch is fetched again by whoever owns the partition next.
    const keepAlive = new KeepAlive(heartbeat, this.options.consumer?.heartbeatInterval ?? 3000, transactional ? undefined : advance).start();
    const moveOn = () => keepAlive.lost || this.state.closing || !isRunning() || isStale();

    const records: Record_[] = batch.messages.map((message, index) => ({ message, index }));
    let sliceBegan = 0;
    let sliceFirst = 0;
    const handle = async ({ message, index }: Record_) => {
      // One at a time, a slice can take minutes (the course's slow step): stop between records, and end the
      // slice once it has run SLOW_SLICE_MS, so its transaction commits what is done. Side by side, a slice is
      // finished whole, so no record is left unstarted behind finished ones (which, as the offset cannot pass
      // them, would be handled again by the next owner).
      if (this.consume.order === 'partition') {
        if (moveOn()) throw new BatchAbandoned();
        if (index > sliceFirst && performance.now() - sliceBegan >= SLOW_SLICE_MS) throw new SliceFull();
      }
      const scope = scopes[index];
      // Every line the handling logs carries the record's place and request id, and what it publishes the id.
      const correlation = { source: 'kafka' as const, request_id: headerOf(message.headers, REQUEST_ID_HEADER), topic, partition, offset: message.offset };
      await withCorrelation(correlation, () => runInRecordScope(scope, () => this.handleMessage({ topic, partition, message, heartbeat, pause: payload.pause })));
      if (scope.failure) throw new HandlerFailed(scope.failure.error);
      progress.markDone(index);
    };
    try {
      // A slice at a time, so a full fetch (thousands of records) does not hold thousands of handlers in memory.
      let start = 0;
      while (start < records.length && !moveOn()) {
        const slice = records.slice(start, start + RECORDS_IN_FLIGHT);
        sliceBegan = performance.now();
        sliceFirst = start;
        const outcomes = await dispatchInLanes(slice, (r) => laneOf(this.consume.order, r.message), handle);
        if (transactional) {
          if (!(await commitDone())) return;
        } else {
          advance();
        }
        const { error } = firstFailure(outcomes);
        if (error instanceof BatchAbandoned) return;
        if (error instanceof SliceFull) {
          start = progress.leadingDone;
          continue;
        }
        if (error !== undefined) {
          this.holdForRetry(payload, progress.firstUnfinished!, error instanceof HandlerFailed ? error.reason : error);
          return;
        }
        start += slice.length;
      }
    } finally {
      keepAlive.stop();
      // The service is stopping: this is the last moment this member may commit, and kafkajs silently drops
      // commits made through the consumer once it has begun to stop, so they go through the batch's channel.
      if (committer && (this.state.closing || !isRunning())) {
        await committer.flush(async (offsets) => {
          const topics = [...new Set(offsets.map((o) => o.topic))].map((name) => ({
            topic: name,
            partitions: offsets.filter((o) => o.topic === name).map(({ partition: p, offset }) => ({ partition: p, offset })),
          }));
          await commitOffsetsIfNecessary({ topics });
        });
      }
    }
  }

  /**
   * Before the first batch of a partition in a generation: claims it (fencing its previous writer), then reads
   * the group's committed offset again. kafkajs read it as the member joined, perhaps before the previous owner's
   * last transaction committed; if that moved the offset past this batch's start, consuming resumes from there.
   */
  private async takeOver(payload: EachBatchPayload): Promise<boolean> {
    const { topic, partition } = payload.batch;
    const key = keyOf(topic, partition);
    if (this.checked.get(key) === this.generation) return true;
    const generation = this.generation;
    try {
      const transactions = this.transactions!;
      // Each step waits on the broker, and gives up when the service stops: a stop during an outage must not hang here.
      await transactions.claim(topic, partition);
      this.offsetsAdmin ??= this.connectedAdmin();
      const admin = await transactions.guard(this.offsetsAdmin);
      const [offsets] = await transactions.guard(admin.fetchOffsets({ groupId: this.groupId, topics: [topic] }));
      const committed = offsets?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
      this.checked.set(key, generation);
      if (BigInt(committed) > BigInt(payload.batch.firstOffset() ?? committed)) {
        this.monitorLogger.log(`${topic}[${partition}]: the previous owner committed up to ${committed} meanwhile; resuming from there`);
        this.consumer!.seek({ topic, partition, offset: committed });
        return false;
      }
      return true;
    } catch (error) {
      if (!this.state.closing) this.holdForRetry(payload, payload.batch.firstOffset() ?? '0', error);
      return false;
    }
  }

  private async connectedAdmin(): Promise<Admin> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      this.offsetsAdminReady = admin;
      return admin;
    } catch (error) {
      this.offsetsAdmin = undefined; // the next takeOver tries again
      throw error;
    }
  }

  /**
   * A slice's transaction failed: nothing of it was written, or, if the commit's answer was lost, all of it.
   * Either way the partition waits until the group confirms this member still owns it (a new assignment, or
   * heartbeats accepted since), then is claimed afresh and its committed offset read again (see takeOver): a
   * member cut off long enough to lose the partition must not claim it back, which would fence its new owner.
   */
  private transactionFailed(payload: EachBatchPayload, firstUncommitted: string, error: unknown): void {
    const { topic, partition } = payload.batch;
    const key = keyOf(topic, partition);
    this.fenced.set(key, { since: Date.now(), beats: 0 });
    this.checked.delete(key);
    this.state.retries.failed(topic, partition, firstUncommitted, error);
    this.consume.telemetry?.retried(topic);
    payload.pause();
    const why = isFenced(error) ? 'was fenced (another member claimed the partition)' : `failed: ${describeError(error)}`;
    this.monitorLogger.warn(`${topic}[${partition}]: its transaction ${why}; the uncommitted work is discarded, waiting for the group to confirm the owner`);
  }

  private noteRecovery(topic: string, partition: number, next: string): void {
    const recovered = this.state.retries.passed(topic, partition, next);
    if (!recovered) return;
    const seconds = ((Date.now() - recovered.since) / 1000).toFixed(1);
    this.monitorLogger.log(`${topic}[${partition}]@${recovered.offset} handled after ${recovered.attempts} retries (${seconds} s): the partition flows again`);
  }

  /**
   * Pauses the partition at the failed record and resumes it after the backoff: kafkajs then fetches again from
   * the first record not done. Returning (instead of waiting here) lets the other partitions flow meanwhile,
   * since kafkajs fetches nothing more from a broker until every batch it handed out has returned.
   */
  private holdForRetry(payload: EachBatchPayload, offset: string, error: unknown): void {
    const { topic, partition } = payload.batch;
    const delay = this.state.retries.failed(topic, partition, offset, error);
    const stall = this.state.retries.stalled().find((s) => s.topic === topic && s.partition === partition);
    this.consume.telemetry?.retried(topic);
    this.monitorLogger.warn(
      `${topic}[${partition}]@${offset} failed, not by its own fault (attempt ${stall?.attempts ?? 1}): ${stall?.lastError ?? String(error)}; ` +
        `partition paused, retrying in ${delay} ms`,
    );
    const resume = payload.pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resume();
    }, delay);
    this.resumeTimers.add(timer);
  }

  protected override registerConsumerEventListeners(): void {
    super.registerConsumerEventListeners();
    const consumer = this.consumer;
    if (!consumer) return;
    // Signs of a consumer at work, for /health/live: kafkajs fetches and heartbeats every few seconds, idle or busy.
    for (const event of [consumer.events.FETCH_START, consumer.events.HEARTBEAT, consumer.events.GROUP_JOIN, consumer.events.REBALANCING, consumer.events.CRASH]) {
      consumer.on(event, () => this.state.sign());
    }
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }: ConsumerGroupJoinEvent) => {
      this.state.status = 'joined';
      this.state.assignments = payload.memberAssignment;
      this.state.retries.retain(payload.memberAssignment);
      this.committer?.newGeneration();
      this.generation += 1;
      this.claimAssigned(payload.memberAssignment);
      // Timed commits run while the consumer is in its group: from its first join, and again after a crash.
      if (!this.state.closing) this.committer?.start();
      const owned = Object.entries(payload.memberAssignment)
        .map(([topic, partitions]) => `${topic}[${[...partitions].sort((a, b) => a - b).join(',')}]`)
        .join(' ');
      this.monitorLogger.log(`${this.label} joined ${payload.groupId}: assigned ${owned || 'no partitions'}`);
    });
    consumer.on(consumer.events.HEARTBEAT, () => {
      const now = Date.now();
      for (const [key, fencing] of this.fenced) {
        if (fencing.since >= now || ++fencing.beats < 2) continue;
        this.fenced.delete(key);
        const { topic, partition } = parsePartitionKey(key);
        this.monitorLogger.log(`${topic}[${partition}]: the group confirms this member still owns it; claiming it again`);
        consumer.resume([{ topic, partitions: [partition] }]);
      }
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }: ConsumerEndBatchProcessEvent) => {
      if (payload.batchSize === 0) this.passControlRecords(payload.topic, payload.partition, payload.lastOffset);
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.state.status = 'rebalancing';
      this.consume.telemetry?.rebalanced();
      // Hand over what is done before the partitions may move (best effort: a rejoin does not wait for it).
      void this.committer?.flush();
    });
    consumer.on(consumer.events.CRASH, ({ payload }: ConsumerCrashEvent) => {
      // Until the consumer rejoins: kafkajs would drop commits while it restarts, and what was pending belongs to
      // the generation that ended.
      this.committer?.stop();
      this.committer?.newGeneration();
      this.state.status = 'crashed';
      this.consume.telemetry?.crashed();
      this.state.lastError = `${payload.error.name}: ${payload.error.message}`;
      this.monitorLogger.error(`consumer crashed (${payload.restart ? 'kafkajs restarts it' : 'kafkajs gave up on it'}): ${this.state.lastError}`);
      if (!payload.restart && !this.state.closing) this.restartConsumer();
    });
    consumer.on(consumer.events.STOP, () => {
      this.state.status = 'stopped';
    });
  }

  /**
   * A fetched batch held only what read_committed hides (a transaction's markers, aborted records): kafkajs moves
   * past it without calling the loop. Its offset is committed all the same, or the group's lag would show those
   * records as unread until the partition's next real record.
   */
  private passControlRecords(topic: string, partition: number, lastOffset: string): void {
    const next = (BigInt(lastOffset) + 1n).toString();
    if (this.committer) {
      this.committer.processed(topic, partition, next);
      return;
    }
    if (!this.transactions?.holds(topic, partition)) return;
    this.transactions.commit(topic, partition, [], next).catch((error: unknown) =>
      this.monitorLogger.warn(`${topic}[${partition}]: committing past control records failed, the next batch will: ${(error as Error).message}`),
    );
  }

  /**
   * Claims every partition just assigned, at once: a previous owner that died left its transaction open, and
   * read_committed consumers downstream wait for it until it is aborted, which claiming does. Fenced partitions
   * that the group gives this member again are resumed.
   */
  private claimAssigned(assignment: Record<string, number[]>): void {
    // kafkajs keeps a partition paused across rebalances: one held back here would stay paused when it comes back.
    for (const key of this.fenced.keys()) {
      const { topic, partition } = parsePartitionKey(key);
      this.fenced.delete(key);
      this.consumer?.resume([{ topic, partitions: [partition] }]);
    }
    this.transactions?.renew(assignment).catch((error: unknown) => {
      if (this.state.closing) return;
      this.monitorLogger.warn(`claiming the assigned partitions failed, the first batch of each will try again: ${(error as Error).message}`);
    });
  }

  /**
   * kafkajs has given up on the consumer (an error it deems fatal): rather than serve HTTP with nothing
   * consuming, start it again here after a pause, for as long as it takes; /health reports it crashed meanwhile.
   */
  private restartConsumer(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.state.closing || !this.consumer) return;
      this.state.sign();
      this.monitorLogger.warn('starting the consumer again');
      const consumer = this.consumer;
      void (async () => {
        await consumer.disconnect().catch(() => undefined);
        await consumer.connect();
        await this.bindEvents(consumer);
      })().catch((error: unknown) => {
        this.state.lastError = `restart failed: ${(error as Error).message}`;
        this.monitorLogger.error(this.state.lastError);
        this.restartConsumer();
      });
    }, RESTART_DELAY_MS);
  }

  override async close(): Promise<void> {
    this.state.closing = true;
    clearTimeout(this.restartTimer);
    for (const timer of this.resumeTimers) clearTimeout(timer);
    // No more timed commits: once kafkajs begins to stop it drops them, and the committer would believe them done.
    this.committer?.stop();
    await this.committer?.flush();
    // The batch in hand commits its transaction as it stops, so the next owner repeats nothing; but a write
    // waiting on a broker that is gone gives up after a grace period, so that the consumer can stop.
    const giveUp = setTimeout(() => this.transactions?.abandon(), CLOSE_GRACE_MS);
    await super.close();
    clearTimeout(giveUp);
    await this.transactions?.close();
    // An admin still connecting (the broker is away) is left to disconnect once it can: its retries would hold the stop.
    const [pending, ready] = [this.offsetsAdmin, this.offsetsAdminReady];
    this.offsetsAdmin = this.offsetsAdminReady = undefined;
    if (ready) await ready.disconnect().catch(() => undefined);
    else void pending?.then((admin) => admin.disconnect()).catch(() => undefined);
  }
}
