import { Logger } from '@nestjs/common';
import { KafkaParser, ServerKafka, type MessageHandler } from '@nestjs/microservices';
import type { Consumer, ConsumerCrashEvent, ConsumerEndBatchProcessEvent, Kafka, ConsumerGroupJoinEvent, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { OffsetCommits, TransactionCommits, type CommitReports, type CommitStrategy } from './consume/commits';
import { ConsumeEngine } from './consume/consume-engine';
import { ConsumerState } from './consume/consumer-state';
import { Intake, type IntakeControl } from './consume/intake';
import { PartitionOwnership } from './consume/partition-ownership';
import { PartitionTransactions } from './consume/partition-transactions';
import type { ProcessingOrder } from './consume/processing-order';
import { RecordRunner, type RecordPlace } from './consume/record-runner';
import { describeError } from './consume/topic-partition';
import type { KafkaServerOptions } from './kafka-config';
import { copyUndecodableMark } from './undecodable-batches';
import { headersAsWritten } from './record-headers';

export interface ConsumeOptions {
  /** See ProcessingOrder: `key` by default, `partition` for the course's experiment (CONSUMER_ORDER). */
  order: ProcessingOrder;
  /**
   * Exactly once between topics: the events records caused and their offsets are written in one Kafka
   * transaction per partition (see TransactionCommits). Otherwise events leave at once and offsets are committed
   * on a tick (at least once; the stores make a redelivery harmless).
   */
  transactional: boolean;
  /** Most records running at once on this instance (CONSUMER_MAX_IN_FLIGHT). */
  maxInFlight?: number;
  telemetry?: ConsumerTelemetry;
}

/** What the loop reports to the service's metrics. */
export interface ConsumerTelemetry {
  /** A record failed, not by its own fault, and will be tried again. */
  retried(topic: string): void;
  /** Events a transaction wrote, once it committed. */
  sent(topic: string, count: number): void;
  /** A partition's transaction, for records of this topic, committed or was given up (aborted, or fenced). */
  transaction(topic: string, outcome: 'committed' | 'aborted'): void;
  /** The group began a rebalance that this member takes part in. */
  rebalanced(): void;
  /** kafkajs crashed the consumer (it restarts it, or the service does). */
  crashed(): void;
}

/** Records running at once on one instance unless CONSUMER_MAX_IN_FLIGHT says otherwise. */
export const DEFAULT_MAX_IN_FLIGHT = 1000;
/** A partition holding more records than this (taken, not yet committed) is paused; it is resumed below the low mark. */
const HOLD_HIGH_WATER = 2000;
const HOLD_LOW_WATER = 1000;
/**
 * How soon after a record finishes its offset is committed. At least once, only the lag report and a crash's
 * repeats wait on it. Exactly once, the events wait on it too: records finishing within this long of each other
 * (those of one fetch, which gathers for up to 25 ms: TRANSACTION_GATHERING) share one transaction. At 200/s,
 * alternating 25 and 5 ms, the chain's p99 read 445 and 396 ms against 526 and 486 ms, its p50 152 and 145 ms
 * against 121 and 143 ms, with 3.4 events a transaction in the order hop against 2.5 to 2.7 (bench/NOTES.md).
 */
const OFFSET_COMMIT_INTERVAL_MS = 200;
const TRANSACTION_COMMIT_INTERVAL_MS = 25;
/** How long a stopping service waits for the records in flight, and then for their commit. */
const CLOSE_GRACE_MS = 5000;
/** How long after kafkajs gives up on the consumer it is started again, in this process. */
const RESTART_DELAY_MS = 5000;

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

/**
 * Nest's Kafka server, with the consume engine in place of its loop (see ConsumeEngine, docs/consumers.md):
 * `eachBatch` hands the records over and returns, so fetching never waits for handling; records run side by side
 * in their key's lane through Nest's own per-message pipeline (pipes, the dead-letter interceptor, the
 * `@EventPattern` handler); a tick commits what is done. What Nest does not surface is surfaced here: the
 * partitions each rebalance assigns (logged, as the course's scaling demo needs to show), retries, and crashes.
 */
export class MonitoredKafkaServer extends ServerKafka {
  private readonly monitorLogger: Logger;
  private engine?: ConsumeEngine;
  /** Counts the consumer's changes of membership (joins, rebalances, crashes, stops); see joined. */
  private membership = 0;
  private transactions?: PartitionTransactions;
  private ownership?: PartitionOwnership;
  private readonly handlers = new Map<string, MessageHandler>();
  private restartTimer?: NodeJS.Timeout;

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

  /** The engine of this consumer, once it runs (its gauges read it). */
  get consumeEngine(): ConsumeEngine | undefined {
    return this.engine;
  }

  override async bindEvents(consumer: Consumer): Promise<void> {
    const topics = [...this.messageHandlers.keys()];
    if (topics.length > 0) await consumer.subscribe({ ...this.options.subscribe, topics });
    this.engine ??= this.buildEngine();
    const engine = this.engine;
    this.state.engine = engine;
    await consumer.run({
      ...this.options.run,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }: EachBatchPayload) => {
        const fetchedOffset = (batch as unknown as { fetchedOffset: string }).fetchedOffset;
        const taken = await engine.take({ topic: batch.topic, partition: batch.partition, fetchedOffset, messages: batch.messages, lastOffset: batch.lastOffset() });
        // Resolving moves kafkajs' fetch position only (this server commits on its own); a batch not taken comes again.
        if (taken) resolveOffset(batch.lastOffset());
      },
    });
  }

  private buildEngine(): ConsumeEngine {
    const control = this.consumerControl();
    const telemetry = this.consume.telemetry;
    const reports: CommitReports = {
      commitFailed: (error) => this.monitorLogger.warn(`offset commit failed, it will be retried: ${describeError(error)}`),
      committed: (partition, sent) => {
        telemetry?.transaction(partition.topic, 'committed');
        for (const [topic, count] of sent) telemetry?.sent(topic, count);
      },
      transactionFailed: (partition, error, fenced) => {
        // Stopping, a write given up on is expected, not a failure: the next owner takes the records up.
        if (this.state.closing) return;
        telemetry?.transaction(partition.topic, 'aborted');
        this.engine?.transactionFailed(partition, error, fenced);
      },
    };
    let commits: CommitStrategy;
    if (this.consume.transactional) {
      this.transactions = new PartitionTransactions(this.kafka, this.groupId);
      this.ownership = new PartitionOwnership(control, { transactions: this.transactions, admin: () => this.kafka.admin(), groupId: this.groupId });
      commits = new TransactionCommits(this.transactions, reports);
    } else {
      this.ownership = new PartitionOwnership(control);
      commits = new OffsetCommits((offsets) => this.commitOffsets(offsets), reports);
    }
    return new ConsumeEngine(
      {
        intake: new Intake(control, { highWater: HOLD_HIGH_WATER, lowWater: HOLD_LOW_WATER }),
        ownership: this.ownership,
        runner: new RecordRunner((place) => this.handleRecord(place), this.consume.transactional),
        commits,
        retries: this.state.retries,
        control,
        logger: this.monitorLogger,
        telemetry,
      },
      {
        order: this.consume.order,
        maxInFlight: this.consume.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
        commitIntervalMs: this.consume.transactional ? TRANSACTION_COMMIT_INTERVAL_MS : OFFSET_COMMIT_INTERVAL_MS,
      },
    );
  }

  /** The consumer as the engine's parts use it; always the current one (the service may start it again). */
  private consumerControl(): IntakeControl {
    return {
      pause: (topic, partition) => this.consumer?.pause([{ topic, partitions: [partition] }]),
      resume: (topic, partition) => this.consumer?.resume([{ topic, partitions: [partition] }]),
      seek: (topic, partition, offset) => this.consumer?.seek({ topic, partition, offset }),
    };
  }

  private async commitOffsets(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
    await this.consumer!.commitOffsets(offsets);
  }

  /** One record through Nest's pipeline, as Nest's own loop hands it (kafkajs heartbeats by itself here). */
  private handleRecord({ topic, partition, message }: RecordPlace): Promise<unknown> {
    return this.handleMessage({
      topic,
      partition,
      message,
      heartbeat: async () => undefined,
      pause: () => {
        this.consumer?.pause([{ topic, partitions: [partition] }]);
        return () => this.consumer?.resume([{ topic, partitions: [partition] }]);
      },
    });
  }

  protected override registerConsumerEventListeners(): void {
    super.registerConsumerEventListeners();
    const consumer = this.consumer;
    if (!consumer) return;
    // Signs of a consumer at work, for /health/live: kafkajs fetches and heartbeats every few seconds, idle or busy.
    for (const event of [consumer.events.FETCH_START, consumer.events.HEARTBEAT, consumer.events.GROUP_JOIN, consumer.events.REBALANCING, consumer.events.CRASH]) {
      consumer.on(event, () => this.state.sign());
    }
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }: ConsumerGroupJoinEvent) => this.joined(payload));
    consumer.on(consumer.events.HEARTBEAT, () => this.engine?.heartbeat());
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }: ConsumerEndBatchProcessEvent) => {
      // A fetched batch held only what read_committed hides (a transaction's markers, aborted records): kafkajs
      // moves past it without calling the loop, and so does the partition's state, or the group's lag would show
      // those records as unread until the partition's next real record.
      if (payload.batchSize === 0) this.engine?.passControlRecords(payload.topic, payload.partition, payload.lastOffset);
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.membership++;
      this.state.status = 'rebalancing';
      this.consume.telemetry?.rebalanced();
      // Hand over what is done before the partitions may move (best effort: a rejoin does not wait for it).
      void this.engine?.commitNow();
    });
    consumer.on(consumer.events.CRASH, ({ payload }: ConsumerCrashEvent) => {
      // What was confirmed belongs to the generation that ended: nothing commits until the consumer rejoins.
      this.engine?.crashed();
      this.membership++;
      this.state.status = 'crashed';
      this.consume.telemetry?.crashed();
      this.state.lastError = `${payload.error.name}: ${payload.error.message}`;
      this.monitorLogger.error(`consumer crashed (${payload.restart ? 'kafkajs restarts it' : 'kafkajs gave up on it'}): ${this.state.lastError}`);
      if (!payload.restart && !this.state.closing) this.restartConsumer();
    });
    consumer.on(consumer.events.STOP, () => {
      this.membership++;
      this.state.status = 'stopped';
    });
  }

  private joined(payload: ConsumerGroupJoinEvent['payload']): void {
    this.state.assignments = payload.memberAssignment;
    const join = ++this.membership;
    const claimed = this.engine?.joined(payload.memberAssignment) ?? Promise.resolve();
    // Joined, for /health and for whoever waits on it, once the partitions are claimed (exactly once): until
    // then no record of them can be committed.
    void claimed
      .catch((error: unknown) => {
        if (this.state.closing) return;
        this.monitorLogger.warn(`claiming the assigned partitions failed, the first batch of each will try again: ${describeError(error)}`);
      })
      .then(() => {
        // Unless the membership changed meanwhile.
        if (this.membership === join) this.state.status = 'joined';
      });
    const owned = Object.entries(payload.memberAssignment)
      .map(([topic, partitions]) => `${topic}[${[...partitions].sort((a, b) => a - b).join(',')}]`)
      .join(' ');
    this.monitorLogger.log(`${this.label} joined ${payload.groupId}: assigned ${owned || 'no partitions'}`);
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

  /**
   * Stopping (SIGTERM): no more records are taken (every partition is paused), those in flight end within the
   * grace, what is done is committed, and only then does the consumer leave its group. A write waiting on a
   * broker that is gone gives up after the grace, so that the service can stop.
   */
  override async close(): Promise<void> {
    this.state.closing = true;
    clearTimeout(this.restartTimer);
    const assigned = Object.entries(this.state.assignments).map(([topic, partitions]) => ({ topic, partitions }));
    if (assigned.length > 0 && this.state.status !== 'crashed') this.consumer?.pause(assigned);
    const grace = CLOSE_GRACE_MS;
    await this.engine?.drain(grace, () => this.transactions?.abandon());
    await super.close();
    await this.transactions?.close();
    await this.ownership?.close();
  }
}
