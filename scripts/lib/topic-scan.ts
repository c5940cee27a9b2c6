import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaJSGroupCoordinatorNotFound, type Admin, type ConsumerEndBatchProcessEvent, type Kafka, type KafkaMessage } from 'kafkajs';

/** Offsets `from` (included) to `to` (excluded) of one partition. */
export interface PartitionRange {
  topic: string;
  partition: number;
  from: bigint;
  to: bigint;
}

export type Visit = (topic: string, partition: number, message: KafkaMessage) => void;

/**
 * The ranges of `topics` that hold records now, each starting at the latest of: the partition's first offset,
 * the first record written at or after `since`, and the last `last` records.
 */
export async function currentRanges(admin: Admin, topics: string[], opts: { since?: Date; last?: number } = {}): Promise<PartitionRange[]> {
  const ranges: PartitionRange[] = [];
  for (const topic of topics) {
    const ends = await whileLeadersSettle(() => admin.fetchTopicOffsets(topic));
    // The offset of the first record at or after the time; -1 when there is none, which means the end.
    const bySince = opts.since ? await whileLeadersSettle(() => admin.fetchTopicOffsetsByTimestamp(topic, opts.since!.getTime())) : [];
    for (const { partition, low, high } of ends) {
      const to = BigInt(high);
      let from = BigInt(low);
      const atTime = bySince.find((p) => p.partition === partition)?.offset;
      if (atTime !== undefined) from = maxOf(from, BigInt(atTime) < 0n ? to : BigInt(atTime));
      if (opts.last !== undefined) from = maxOf(from, to - BigInt(opts.last));
      if (to > from) ranges.push({ topic, partition, from, to });
    }
  }
  return ranges;
}

/**
 * Reads the ranges read_committed (records of aborted transactions are never seen), in a consumer group of its
 * own that commits nothing and is deleted afterwards: reading moves nobody's offsets. A range is done when the
 * consumer has passed its end, transaction markers included, which no message shows.
 */
export async function scanRanges(kafka: Kafka, ranges: PartitionRange[], visit: Visit, timeoutMs = 120_000): Promise<void> {
  const open = ranges.filter((r) => r.to > r.from);
  if (open.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let visited = 0;
    try {
      return await scanOnce(kafka, open, (topic, partition, message) => {
        visited += 1;
        visit(topic, partition, message);
      }, deadline - Date.now());
    } catch (error) {
      // A broker that has just started may not have loaded its group coordinator yet, and joining the reader's
      // group fails after kafkajs' few retries. Try again then, but never once a record was visited: it would
      // be visited twice.
      if (visited > 0 || !retriable(error) || Date.now() + RETRY_PAUSE_MS >= deadline) throw error;
      await sleep(RETRY_PAUSE_MS);
    }
  }
}

const RETRY_PAUSE_MS = 1000;
/** How long a broker just started may answer that it does not lead a partition yet. */
const LEADERS_SETTLE_MS = 30_000;

/**
 * Asks again while the answer is one kafkajs marks retriable: a broker just started says it leads no partition
 * (NOT_LEADER_OR_FOLLOWER) until its log is loaded, and kafkajs' admin passes that on after a few quick retries.
 */
async function whileLeadersSettle<T>(ask: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LEADERS_SETTLE_MS;
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      if (!retriable(error) || Date.now() + RETRY_PAUSE_MS >= deadline) throw error;
      await sleep(RETRY_PAUSE_MS);
    }
  }
}

/**
 * kafkajs marks the errors worth retrying (a coordinator not ready, a leader moving); wrapped, it keeps them as
 * causes. It marks "no coordinator found" final, though a broker just started answers so for a few seconds.
 */
function retriable(error: unknown): boolean {
  if (error instanceof KafkaJSGroupCoordinatorNotFound) return true;
  for (let e = error as { retriable?: boolean; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.retriable === true) return true;
  }
  return false;
}

async function scanOnce(kafka: Kafka, open: PartitionRange[], visit: Visit, timeoutMs: number): Promise<void> {
  const key = (topic: string, partition: number) => `${topic}:${partition}`;
  const byKey = new Map(open.map((r) => [key(r.topic, r.partition), r]));
  const reached = new Map<string, bigint>();
  const groupId = `dlq-cli-${process.pid}-${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 4 * 1024 * 1024 });
  let timer: NodeJS.Timeout | undefined;
  let fail: (error: unknown) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    fail = reject;
    const check = () => open.every((r) => (reached.get(key(r.topic, r.partition)) ?? r.from) >= r.to) && resolve();
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }: ConsumerEndBatchProcessEvent) => {
      reached.set(key(payload.topic, payload.partition), BigInt(payload.lastOffset) + 1n);
      check();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
    timer = setTimeout(() => reject(new Error(`could not read ${[...byKey.keys()].join(', ')} to their end within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...new Set(open.map((r) => r.topic))] });
    // A group that cannot be joined fails run() itself; a consumer that crashes later, through CRASH.
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const range = byKey.get(key(topic, partition));
        const offset = BigInt(message.offset);
        if (range && offset >= range.from && offset < range.to) visit(topic, partition, message);
      },
    }).catch(fail);
    // Registered before the group is joined, so the first fetch of each partition starts at its range.
    for (const r of open) consumer.seek({ topic: r.topic, partition: r.partition, offset: String(r.from) });
    await done;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    // The reader's group holds no offsets; remove it so it does not show up in lag reports or Kafka UI.
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
