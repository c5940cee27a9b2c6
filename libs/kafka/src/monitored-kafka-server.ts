import { Logger } from '@nestjs/common';
import { ServerKafka, type MessageHandler } from '@nestjs/microservices';
import type { Consumer, ConsumerCrashEvent, ConsumerGroupJoinEvent, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { KafkaServerOptions } from './kafka-config';
import { dispatchInLanes, firstFailure } from './key-ordered-dispatch';
import { OffsetCommitter } from './offset-committer';

export type ConsumerStatus = 'starting' | 'joined' | 'rebalancing' | 'crashed' | 'stopped';

/** What the health check and the logs know of this instance's consumer. */
export class ConsumerState {
  status: ConsumerStatus = 'starting';
  assignments: Record<string, number[]> = {};
  lastError: string | null = null;
  /** True while the application is closing on purpose, so a stop is not reported as a failure. */
  closing = false;
}

export interface DispatchOptions {
  /**
   * One record at a time per partition, as the course's consumer works (set with PROCESSING_DELAY_MS, whose
   * slow step models work that cannot overlap). Otherwise the records of a fetched batch are handled side by
   * side, one after another only within a key.
   */
  sequential: boolean;
}

/** Most records of one partition's batch handled at once. */
const RECORDS_IN_FLIGHT = 250;
/** How often handled offsets are committed (see OffsetCommitter): the most a crash repeats, and how stale lag reports can be. */
const COMMIT_INTERVAL_MS = 200;

/** Why the rest of a batch was not handled: the consumer is stopping, or a rebalance or seek moved on. */
class BatchAbandoned extends Error {
  override name = 'BatchAbandoned';
}

/**
 * Nest's Kafka server, consuming batch by batch, plus what Nest does not surface: the partitions each
 * rebalance assigns (logged, as the course's scaling demo needs to show) and crashes, which health reports.
 *
 * Nest hands kafkajs one message at a time, so every record waits for its own database statement and
 * produce request before the next starts. Here each fetched batch goes through Nest's usual per-message
 * pipeline (pipes, interceptors, the dead-letter interceptor) with its records side by side, keeping
 * per-key order, so the statements and produce requests they make coalesce into one per batch (see
 * Coalescer). Offsets advance over the leading records that are done and are committed on an interval (see
 * OffsetCommitter); a record that fails (for a transient reason: poison is dead-lettered) stops the offset
 * there and is redelivered, with everything after it, as kafkajs does per message.
 */
export class MonitoredKafkaServer extends ServerKafka {
  private readonly monitorLogger: Logger;
  private committer?: OffsetCommitter;
  private readonly handlers = new Map<string, MessageHandler>();

  constructor(
    options: KafkaServerOptions,
    private readonly state: ConsumerState,
    private readonly label: string,
    private readonly dispatch: DispatchOptions = { sequential: false },
  ) {
    super(options);
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

  override async bindEvents(consumer: Consumer): Promise<void> {
    const topics = [...this.messageHandlers.keys()];
    if (topics.length > 0) await consumer.subscribe({ ...this.options.subscribe, topics });
    this.committer = new OffsetCommitter((offsets) => consumer.commitOffsets(offsets), COMMIT_INTERVAL_MS, (error) =>
      this.monitorLogger.warn(`offset commit failed, it will be retried: ${(error as Error).message}`),
    );
    await consumer.run({ ...this.options.run, eachBatchAutoResolve: false, eachBatch: (payload) => this.handleBatch(payload) });
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, pause, resolveOffset, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const done = batch.messages.map(() => false);
    let leading = 0;
    const advance = () => {
      const before = leading;
      while (leading < done.length && done[leading]) leading += 1;
      if (leading === before) return;
      const offset = leading === done.length ? batch.lastOffset() : batch.messages[leading - 1].offset;
      resolveOffset(offset);
      this.committer?.processed(batch.topic, batch.partition, (BigInt(offset) + 1n).toString());
    };
    // kafkajs heartbeats only between batches: a long batch heartbeats as it goes. A failed heartbeat (most
    // often: a rebalance has begun) starts no more records, so the group is rejoined in time and the rest of
    // the batch is fetched again by whoever owns the partition next.
    let abandoned = false;
    const moveOn = () => abandoned || this.state.closing || !isRunning() || isStale();
    const keepAlive = setInterval(() => {
      try {
        advance();
      } catch (error) {
        abandoned = true; // the partition is no longer ours (resolveOffset refused it)
        this.monitorLogger.warn(`${batch.topic}[${batch.partition}] left mid-batch: ${(error as Error).message}`);
      }
      heartbeat().catch(() => (abandoned = true));
    }, this.options.consumer?.heartbeatInterval ?? 3000);

    const records = batch.messages.map((message, index) => ({ message, index }));
    const laneOf = ({ message }: { message: KafkaMessage }) => (this.dispatch.sequential ? '' : (message.key?.toString('latin1') ?? ''));
    const handle = async ({ message, index }: { message: KafkaMessage; index: number }) => {
      // One at a time, a slice can take minutes (the course's slow step): stop between records. Side by side,
      // a slice is finished whole, so no record is left unstarted behind finished ones (which, as the offset
      // cannot pass them, would be handled again by the next owner).
      if (this.dispatch.sequential && moveOn()) throw new BatchAbandoned();
      await this.handleMessage({ topic: batch.topic, partition: batch.partition, message, heartbeat, pause });
      done[index] = true;
    };
    try {
      // A slice at a time, so a full fetch (thousands of records) does not hold thousands of handlers in memory.
      for (let start = 0; start < records.length && !moveOn(); start += RECORDS_IN_FLIGHT) {
        const outcomes = await dispatchInLanes(records.slice(start, start + RECORDS_IN_FLIGHT), laneOf, handle);
        advance();
        const { error } = firstFailure(outcomes);
        if (error instanceof BatchAbandoned) return;
        if (error !== undefined) throw error;
      }
    } finally {
      clearInterval(keepAlive);
      // The service is stopping: this is the last moment this member may commit, and kafkajs silently drops
      // commits made through the consumer once it has begun to stop, so they go through the batch's channel.
      if (this.state.closing || !isRunning()) {
        await this.committer?.flush(async (offsets) => {
          const topics = [...new Set(offsets.map((o) => o.topic))].map((topic) => ({
            topic,
            partitions: offsets.filter((o) => o.topic === topic).map(({ partition, offset }) => ({ partition, offset })),
          }));
          await commitOffsetsIfNecessary({ topics });
        });
      }
    }
  }

  protected override registerConsumerEventListeners(): void {
    super.registerConsumerEventListeners();
    const consumer = this.consumer;
    if (!consumer) return;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }: ConsumerGroupJoinEvent) => {
      this.state.status = 'joined';
      this.state.assignments = payload.memberAssignment;
      this.committer?.retain(payload.memberAssignment);
      // Timed commits run while the consumer is in its group: from its first join, and again after a crash.
      if (!this.state.closing) this.committer?.start();
      const owned = Object.entries(payload.memberAssignment)
        .map(([topic, partitions]) => `${topic}[${[...partitions].sort((a, b) => a - b).join(',')}]`)
        .join(' ');
      this.monitorLogger.log(`${this.label} joined ${payload.groupId}: assigned ${owned || 'no partitions'}`);
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.state.status = 'rebalancing';
      // Hand over what is done before the partitions may move (best effort: a rejoin does not wait for it).
      void this.committer?.flush();
    });
    consumer.on(consumer.events.CRASH, ({ payload }: ConsumerCrashEvent) => {
      this.committer?.stop(); // until the consumer rejoins: kafkajs would drop commits while it restarts
      this.state.status = 'crashed';
      this.state.lastError = `${payload.error.name}: ${payload.error.message}`;
      this.monitorLogger.error(`consumer crashed (${payload.restart ? 'restarting' : 'not restarting'}): ${this.state.lastError}`);
      // kafkajs has given up on it: rather than serve HTTP with no consumer, stop, so a supervisor restarts us.
      if (!payload.restart && !this.state.closing) {
        process.exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
      }
    });
    consumer.on(consumer.events.STOP, () => {
      this.state.status = 'stopped';
    });
  }

  override async close(): Promise<void> {
    this.state.closing = true;
    // No more timed commits: once kafkajs begins to stop it drops them, and the committer would believe them done.
    this.committer?.stop();
    await this.committer?.flush();
    await super.close();
  }
}
