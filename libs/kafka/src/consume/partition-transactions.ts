import { KafkaJSProtocolError, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { OutgoingEvent } from '../event-publisher';
import { producerConfig } from '../kafka-config';

/** Events of one topic, as a handler published them. */
export interface StagedEvents {
  topic: string;
  events: OutgoingEvent[];
}

/** Most bytes of event values one produce request of a transaction carries; a larger event goes alone. */
const MAX_REQUEST_BYTES = 512 * 1024;
/**
 * A transaction is opened only once its records are handled, and lives for a few round trips. If its
 * owner dies in between, the coordinator aborts it after this long, so it cannot hold read_committed consumers
 * back for longer.
 */
const TRANSACTION_TIMEOUT_MS = 10_000;

/** The broker's own answer, where kafkajs wrapped it. */
function protocolType(error: unknown): string | undefined {
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    if (current instanceof KafkaJSProtocolError) return current.type;
  }
  return undefined;
}

/** The broker's answer to a producer whose transactional id another producer has taken over since. */
export function isFenced(error: unknown): boolean {
  const type = protocolType(error);
  return type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED';
}

/**
 * The coordinator is still writing the markers of the partition's previous transaction: a step of the next one
 * is refused (CONCURRENT_TRANSACTIONS) for a few milliseconds. Kafka's Java client retries it; kafkajs gives up on
 * AddOffsetsToTxn at once, which, with a transaction per partition every few milliseconds, aborted three of 33
 * transactions of analytics in a burst of 20,000 and had their records handled again.
 */
const CONCURRENT_RETRIES = 50;
const CONCURRENT_BACKOFF_MS = 10;

async function retryingConcurrent<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (protocolType(error) !== 'CONCURRENT_TRANSACTIONS' || attempt >= CONCURRENT_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, CONCURRENT_BACKOFF_MS));
    }
  }
}

/**
 * One transactional producer per input partition of this member, so that what a record caused (its events, its
 * dead letter) and its offset are written together or not at all (exactly once between topics).
 *
 * Fencing: kafkajs speaks TxnOffsetCommit v0/v1 only, which carries no consumer generation (KIP-447), so the
 * broker cannot tell an old owner of a partition from the new one by the group. The transactional id is
 * therefore the partition's: `<group>.<topic>.<partition>`. A new owner initialises it when it claims the
 * partition, which bumps its epoch: the coordinator aborts whatever the old owner left open, and the old owner's
 * next send or commit is refused as fenced, however long it was paused.
 */
/** A write for a partition this member has not claimed (or has released since): it must claim it first. */
export class PartitionNotClaimed extends Error {
  override name = 'PartitionNotClaimed';
}

export class PartitionTransactions {
  private readonly producers = new Map<string, Promise<Producer>>();
  /** Rejects once the service stops: a write waiting on a broker that is gone must not hold the shutdown. */
  private readonly stopping: Promise<never>;
  private stop: (reason: Error) => void = () => undefined;
  private stopped = false;
  /** Per partition: the commit under way (commits of one partition run one after another), and the last offset committed. */
  private readonly lanes = new Map<string, Promise<unknown>>();
  private readonly committed = new Map<string, { next: bigint; metadata: string }>();

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
  ) {
    this.stopping = new Promise<never>((_, reject) => (this.stop = reject));
    this.stopping.catch(() => undefined);
  }

  /** Whether this member holds the partition's transactional id (claimed, or being claimed). */
  holds(topic: string, partition: number): boolean {
    return this.producers.has(this.transactionalId(topic, partition));
  }

  transactionalId(topic: string, partition: number): string {
    return `${this.groupId}.${topic}.${partition}`;
  }

  /** Makes this member the partition's writer, fencing any earlier one; resolves once the broker agreed, rejects once the service stops. */
  claim(topic: string, partition: number): Promise<Producer> {
    const key = this.transactionalId(topic, partition);
    const known = this.producers.get(key);
    if (known) return known;
    if (this.stopped) return this.stopping;
    const claiming = (async () => {
      const producer = this.kafka.producer({
        ...producerConfig,
        transactionalId: key,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: TRANSACTION_TIMEOUT_MS,
        // An idempotent producer retries until the broker answers (kafkajs warns against fewer): a send that gave
        // up half-way could leave a gap in its sequence. Fencing or the transaction timeout ends a hopeless one.
        // The first retry comes soon: a transaction begun right after a commit is refused (CONCURRENT_TRANSACTIONS)
        // for the few milliseconds the coordinator takes to write the markers, as Java's client expects too.
        retry: { initialRetryTime: 20, maxRetryTime: 2000, retries: Number.MAX_SAFE_INTEGER },
      });
      const initialised = (async () => {
        await producer.connect();
        // kafkajs initialises the transactional id (InitProducerId, which fences) at its first transaction only.
        const transaction = await producer.transaction();
        await transaction.abort();
      })();
      try {
        // Its retries have no end while the broker is away: a stopping service does not wait for them.
        await this.guard(initialised);
      } catch (error) {
        initialised.catch(() => undefined);
        const disconnecting = producer.disconnect().catch(() => undefined);
        if (!this.stopped) await disconnecting;
        throw error;
      }
      return producer;
    })();
    this.producers.set(key, claiming);
    claiming.catch(() => {
      if (this.producers.get(key) === claiming) this.producers.delete(key);
    });
    return claiming;
  }

  /**
   * One transaction: the staged events, then the consumed offset (`next`, the next record to read) and its
   * `metadata` (the records done beyond it) for the group, then commit. On any failure the transaction is
   * aborted and the producer dropped, so the next attempt claims the partition afresh (and a half-ended
   * transaction cannot linger).
   */
  commit(topic: string, partition: number, staged: StagedEvents[], next: string, metadata = ''): Promise<void> {
    const key = this.transactionalId(topic, partition);
    const run = (this.lanes.get(key) ?? Promise.resolve()).catch(() => undefined).then(async () => {
      // An offset is only ever moved forward: a bare offset commit that would take it back, or change nothing, is skipped.
      const last = this.committed.get(key);
      if (staged.length === 0 && last && (last.next > BigInt(next) || (last.next === BigInt(next) && last.metadata === metadata))) return;
      await this.write(topic, partition, staged, next, metadata);
      this.committed.set(key, { next: BigInt(next), metadata });
    });
    this.lanes.set(key, run);
    return run;
  }

  /**
   * Never claims: only the consume loop does, when the group has said the partition is this member's. A write
   * that claimed by itself after a failure could fence the partition's rightful new owner.
   */
  private async write(topic: string, partition: number, staged: StagedEvents[], next: string, metadata: string): Promise<void> {
    const claimed = this.producers.get(this.transactionalId(topic, partition));
    if (!claimed) throw new PartitionNotClaimed(`${topic}[${partition}] is not claimed by this member`);
    const producer = await this.guard(claimed);
    const transaction = await this.guard(producer.transaction());
    try {
      for (const request of requests(staged)) await this.guard(retryingConcurrent(() => transaction.sendBatch({ topicMessages: request, acks: -1 })));
      // kafkajs passes a partition's metadata on to TxnOffsetCommit, though its type does not declare it.
      const withMetadata = { partition, offset: next, metadata };
      const offsets = { consumerGroupId: this.groupId, topics: [{ topic, partitions: [withMetadata] }] };
      await this.guard(retryingConcurrent(() => transaction.sendOffsets(offsets)));
      await this.guard(transaction.commit());
    } catch (error) {
      // Stopping, the abort may wait on the broker as long as the write did: it is left to the coordinator.
      if (transaction.isActive() && !this.stopped) await transaction.abort().catch(() => undefined);
      await this.release(topic, partition);
      throw error;
    }
  }

  /** The work, or a rejection as soon as the service is stopping (the work itself is not cancelled). */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.stopping]);
  }

  /** Stops writing for a partition (its producer failed). */
  release(topic: string, partition: number): Promise<void> {
    return this.releaseId(this.transactionalId(topic, partition));
  }

  private async releaseId(key: string): Promise<void> {
    const producer = this.producers.get(key);
    this.producers.delete(key);
    this.committed.delete(key);
    this.lanes.delete(key);
    await producer?.then((p) => p.disconnect()).catch(() => undefined);
  }

  private async releaseAll(): Promise<void> {
    await Promise.all([...this.producers.keys()].map((key) => this.releaseId(key)));
  }

  /**
   * After a rebalance: every producer is dropped and the partitions now assigned are claimed afresh, so that
   * each new generation fences whoever wrote for them before, this member included in an earlier life.
   */
  async renew(assignment: Record<string, number[]>): Promise<void> {
    await this.releaseAll();
    await Promise.all(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => this.claim(topic, p))));
  }

  /** Writes still waiting on the broker give up at once (the service is stopping and cannot wait longer). */
  abandon(): void {
    this.stopped = true;
    this.stop(new Error('the service is stopping'));
  }

  async close(): Promise<void> {
    this.abandon();
    await this.releaseAll();
  }
}

/** The staged events as produce requests: in order, each within MAX_REQUEST_BYTES unless one event alone is larger. */
function requests(staged: StagedEvents[]): TopicMessages[][] {
  const all: Array<{ topic: string; message: Message; bytes: number }> = staged.flatMap(({ topic, events }) =>
    events.map((event) => {
      const value = JSON.stringify(event.value);
      return { topic, message: { key: event.key, value, headers: event.headers }, bytes: Buffer.byteLength(value) + Buffer.byteLength(event.key) };
    }),
  );
  const result: TopicMessages[][] = [];
  let current: typeof all = [];
  let size = 0;
  const flush = () => {
    if (current.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of current) {
      const messages = byTopic.get(topic) ?? [];
      messages.push(message);
      byTopic.set(topic, messages);
    }
    result.push([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    current = [];
    size = 0;
  };
  for (const item of all) {
    if (size + item.bytes > MAX_REQUEST_BYTES) flush();
    current.push(item);
    size += item.bytes;
  }
  flush();
  return result;
}
