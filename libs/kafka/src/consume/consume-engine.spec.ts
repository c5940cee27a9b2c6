import fc from 'fast-check';
import type { Admin, KafkaMessage } from 'kafkajs';
import type { CommitStrategy, Timers } from './commits';
import { ConsumeEngine, type EngineSettings } from './consume-engine';
import { Intake, type FetchedBatch, type IntakeControl } from './intake';
import { encodeFinished } from './offset-metadata';
import { PartitionOwnership } from './partition-ownership';
import type { PartitionState } from './partition-state';
import type { PartitionTransactions } from './partition-transactions';
import { RecordRetries } from './record-retries';
import { RecordRunner, type RecordPlace } from './record-runner';

const TOPIC = 'payment-successful';
/** The commit tick, the first retry's wait (random=()=>1: no jitter taken off) and the stop's grace: all apart. */
const COMMIT_MS = 7;
const FIRST_RETRY_MS = 1000;
const GRACE_MS = 30_000;

/** Lets every run, completion and commit round that is due happen (they are promise chains, no timers). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Timers fired by hand. */
class ManualTimers implements Timers {
  private last = 0;
  readonly pending = new Map<number, { callback: () => void; ms: number }>();

  setTimeout(callback: () => void, ms: number): unknown {
    this.last += 1;
    this.pending.set(this.last, { callback, ms });
    return this.last;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** The delays of the timers set and not fired nor cleared. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }

  /** Fires the timers set for `ms`, oldest first; returns how many fired. */
  fire(ms: number): number {
    const due = [...this.pending].filter(([, t]) => t.ms === ms);
    for (const [id, timer] of due) {
      if (this.pending.delete(id)) timer.callback();
    }
    return due.length;
  }
}

/** A commit strategy that commits what each partition can, and records each round (a round may be held unanswered). */
class RecordingCommits implements CommitStrategy {
  readonly rounds: Array<Array<{ topic: string; partition: number; next: bigint }>> = [];
  /** While set, a round waits on it before it counts as committed (a broker that does not answer). */
  answer?: Promise<void>;

  async commit(states: readonly PartitionState[]): Promise<void> {
    const work = states.flatMap((state) => {
      const committable = state.committable();
      return committable ? [{ state, next: committable.next }] : [];
    });
    this.rounds.push(work.map(({ state, next }) => ({ topic: state.topic, partition: state.partition, next })));
    if (this.answer) await this.answer;
    for (const { state, next } of work) state.committedUpTo(next);
  }

  /** Every offset committed for a partition, in order. */
  history(partition: number): bigint[] {
    return this.rounds.flat().filter((c) => c.topic === TOPIC && c.partition === partition).map((c) => c.next);
  }

  /** The offset last committed for a partition, if any. */
  committed(partition: number): bigint | undefined {
    return this.history(partition).at(-1);
  }
}

/** One run of a record's handler, ended by the spec. */
interface Run {
  partition: number;
  offset: number;
  key: string | null;
  ended: boolean;
  /** The handler returns (sets nothing): the record is done. */
  release(): void;
  /** The handler throws: the record failed, not by its own fault. */
  fail(error?: unknown): void;
}

/** The `handle` of a real RecordRunner: each run waits until the spec ends it; overlaps and disorder within a lane are noted. */
class FakeHandler {
  readonly runs: Run[] = [];
  readonly overlaps: string[] = [];
  /** Records that started before a record of their lane with a higher offset. */
  readonly outOfOrder: string[] = [];
  private readonly lastStarted = new Map<string, number>();
  running = 0;
  mostRunning = 0;
  private readonly busy = new Set<string>();

  constructor(private readonly laneOf: (place: RecordPlace) => string) {}

  readonly handle = (place: RecordPlace): Promise<void> => {
    const { partition, message } = place;
    const lane = this.laneOf(place);
    if (this.busy.has(lane)) this.overlaps.push(`${lane}@${message.offset}`);
    this.busy.add(lane);
    if ((this.lastStarted.get(lane) ?? -1) > Number(message.offset)) this.outOfOrder.push(`${lane}@${message.offset}`);
    this.lastStarted.set(lane, Number(message.offset));
    this.running += 1;
    this.mostRunning = Math.max(this.mostRunning, this.running);
    return new Promise<void>((resolve, reject) => {
      const end = () => {
        if (run.ended) throw new Error(`${partition}@${message.offset} ended twice`);
        run.ended = true;
        this.running -= 1;
        this.busy.delete(lane);
      };
      const run: Run = {
        partition,
        offset: Number(message.offset),
        key: message.key === null ? null : message.key.toString(),
        ended: false,
        release: () => {
          end();
          resolve();
        },
        fail: (error = new Error('database down')) => {
          end();
          reject(error);
        },
      };
      this.runs.push(run);
    });
  };

  /** Offsets of a partition's runs, in the order they started (a retried record appears again). */
  started(partition: number): number[] {
    return this.runs.filter((r) => r.partition === partition).map((r) => r.offset);
  }

  /** The running run of a record. */
  run(partition: number, offset: number): Run {
    const run = this.runs.find((r) => r.partition === partition && r.offset === offset && !r.ended);
    if (!run) throw new Error(`${partition}@${offset} is not running`);
    return run;
  }

  release(partition: number, ...offsets: number[]): void {
    for (const offset of offsets) this.run(partition, offset).release();
  }
}

function message(offset: number, key: string | null): KafkaMessage {
  return { offset: String(offset), key: key === null ? null : Buffer.from(key), value: Buffer.from('{}'), timestamp: '0', attributes: 0, headers: {} } as KafkaMessage;
}

/** A fetched batch of `TOPIC`, as the server hands it over: records as [offset, key]. */
function batch(partition: number, fetchedOffset: number, records: Array<[number, string | null]>, lastOffset?: number): FetchedBatch {
  return {
    topic: TOPIC,
    partition,
    fetchedOffset: String(fetchedOffset),
    messages: records.map(([offset, key]) => message(offset, key)),
    lastOffset: String(lastOffset ?? records.at(-1)?.[0] ?? fetchedOffset - 1),
  };
}

/**
 * Exactly once as ownership sees it: claims that succeed at once, and an admin whose group holds, for `TOPIC`,
 * the offsets and metadata in `group` (partition -> held), which a spec changes as other members would.
 */
function exactlyOnceGroup(group: Map<number, { offset: string; metadata: string | null }>) {
  const fakeAdmin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    fetchOffsets: async ({ topics }: { groupId: string; topics: string[] }) =>
      topics.map((topic) => ({ topic, partitions: topic === TOPIC ? [...group].map(([partition, held]) => ({ partition, ...held })) : [] })),
  };
  const transactions = {
    claim: async () => undefined,
    guard: <T>(work: Promise<T>) => work,
    renew: async () => undefined,
  };
  return { transactions: transactions as unknown as PartitionTransactions, admin: () => fakeAdmin as unknown as Admin, groupId: 'order-group' };
}

/** An engine over real parts (at least once unless `exactlyOnce` is given), with the consumer, the handlers, the commits and the timers faked. */
function engineWith(settings: Partial<EngineSettings> = {}, exactlyOnce?: ReturnType<typeof exactlyOnceGroup>) {
  const calls: string[] = [];
  const control: IntakeControl = {
    pause: (topic, partition) => void calls.push(`pause ${topic}[${partition}]`),
    resume: (topic, partition) => void calls.push(`resume ${topic}[${partition}]`),
    seek: (topic, partition, offset) => void calls.push(`seek ${topic}[${partition}] ${offset}`),
  };
  let now = Date.now();
  const clock = { now: () => now, advance: (ms: number) => void (now += ms) };
  const timers = new ManualTimers();
  const retries = new RecordRetries({ initialMs: FIRST_RETRY_MS, maxMs: 8000, boundMs: 600_000 }, clock.now, () => 1);
  const ownership = new PartitionOwnership(control, exactlyOnce, clock.now);
  const intake = new Intake(control, { highWater: 100_000, lowWater: 50_000 });
  const order = settings.order ?? 'key';
  const handler = new FakeHandler(({ topic, partition, message: m }) =>
    order === 'partition' ? `${topic}[${partition}]` : `${topic}[${partition}]|${m.key === null ? '(none)' : m.key.toString()}`,
  );
  const commits = new RecordingCommits();
  const lines: string[] = [];
  const logger = { log: (line: string) => void lines.push(line), warn: (line: string) => void lines.push(`WARN ${line}`) };
  const retried: string[] = [];
  const engine = new ConsumeEngine(
    {
      intake,
      ownership,
      runner: new RecordRunner(handler.handle, false),
      commits,
      retries,
      control,
      logger,
      telemetry: { retried: (topic) => void retried.push(topic) },
      timers,
    },
    { order, maxInFlight: 100, commitIntervalMs: COMMIT_MS, ...settings },
  );
  /** Takes a batch and lets its records start. */
  const take = async (b: FetchedBatch) => {
    const taken = await engine.take(b);
    await settle();
    return taken;
  };
  /** The handler of these records returns, and what follows from it runs. */
  const release = async (partition: number, ...offsets: number[]) => {
    handler.release(partition, ...offsets);
    await settle();
  };
  /** The commit tick comes (if one is due), and its round ends. */
  const tick = async () => {
    timers.fire(COMMIT_MS);
    await settle();
  };
  return { engine, intake, retries, handler, commits, timers, calls, lines, retried, clock, take, release, tick };
}

describe('ConsumeEngine', () => {
  it('keeps each key in order under random handler latencies, and commits every partition to its end', async () => {
    // 200 records over 20 keys (a key lives in one partition: key % 3), fetched in batches, handled with latencies in ticks.
    const records = fc.array(fc.record({ key: fc.integer({ min: 0, max: 19 }), latency: fc.integer({ min: 0, max: 6 }) }), { minLength: 200, maxLength: 200 });
    await fc.assert(
      fc.asyncProperty(records, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 30 }), async (recs, batchSize, maxInFlight) => {
        const { engine, handler, commits, take, tick } = engineWith({ maxInFlight });
        await engine.joined({ [TOPIC]: [0, 1, 2] });
        const START = 100;
        const byPartition = [0, 1, 2].map((p) => recs.filter((r) => r.key % 3 === p).map((r, i) => ({ ...r, offset: START + i })));
        const latency = new Map<string, number>();
        for (const [p, list] of byPartition.entries()) for (const r of list) latency.set(`${p}@${r.offset}`, r.latency);
        // Each partition's fetches, the partitions in turn.
        const fetches = byPartition.map((list, p) =>
          Array.from({ length: Math.ceil(list.length / batchSize) }, (_, i) => list.slice(i * batchSize, (i + 1) * batchSize)).map((slice) =>
            batch(p, slice[0].offset, slice.map((r) => [r.offset, `k${r.key}`])),
          ),
        );
        const batches: FetchedBatch[] = [];
        for (let i = 0; fetches.some((f) => i < f.length); i++) for (const f of fetches) if (i < f.length) batches.push(f[i]);
        const due = new Map<Run, number>();
        let finished = false;
        for (let t = 0; t < 2000 && !finished; t++) {
          const next = batches.shift();
          if (next) expect(await take(next)).toBe(true);
          for (const run of handler.runs) if (!due.has(run)) due.set(run, t + latency.get(`${run.partition}@${run.offset}`)!);
          for (const [run, at] of due) if (!run.ended && at <= t) run.release();
          await settle();
          await tick();
          // No two records of a key at once, never more than the cap.
          expect(handler.overlaps).toEqual([]);
          expect(handler.outOfOrder).toEqual([]);
          expect(handler.running).toBeLessThanOrEqual(maxInFlight);
          // The commit never passes a record not handled yet.
          for (const [p, list] of byPartition.entries()) {
            const handled = new Set(handler.runs.filter((r) => r.partition === p && r.ended).map((r) => r.offset));
            const firstUnhandled = list.find((r) => !handled.has(r.offset))?.offset;
            const committed = commits.committed(p);
            if (firstUnhandled !== undefined && committed !== undefined) expect(committed).toBeLessThanOrEqual(BigInt(firstUnhandled));
          }
          finished = batches.length === 0 && engine.inFlight === 0 && engine.waiting === 0;
        }
        expect(finished).toBe(true);
        await tick();

        expect(handler.overlaps).toEqual([]);
        expect(handler.mostRunning).toBeLessThanOrEqual(maxInFlight);
        for (const [p, list] of byPartition.entries()) {
          for (let key = p; key < 20; key += 3) {
            const offsets = list.filter((r) => r.key === key).map((r) => r.offset);
            // Each record of the key ran once, in offset order.
            expect(handler.runs.filter((r) => r.partition === p && r.key === `k${key}`).map((r) => r.offset)).toEqual(offsets);
          }
          const history = commits.history(p);
          expect([...history].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(history);
          if (list.length > 0) expect(commits.committed(p)).toBe(BigInt(START + list.length));
        }
        expect(engine.held().every((h) => h.records === 0)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('runs at most maxInFlight records at once, over all partitions, and reaches that many', async () => {
    const { engine, handler, release, take } = engineWith({ maxInFlight: 3 });
    await engine.joined({ [TOPIC]: [0, 1] });
    await take(batch(0, 10, [10, 11, 12, 13, 14, 15].map((o) => [o, `k${o}`])));
    await take(batch(1, 20, [20, 21, 22].map((o) => [o, `k${o}`])));
    expect(handler.started(0)).toEqual([10, 11, 12]);
    expect(handler.started(1)).toEqual([]);
    expect({ inFlight: engine.inFlight, waiting: engine.waiting }).toEqual({ inFlight: 3, waiting: 6 });

    // A place that frees is taken at once, by the oldest waiting record.
    await release(0, 11);
    expect(handler.started(0)).toEqual([10, 11, 12, 13]);
    expect(engine.inFlight).toBe(3);
    while (handler.runs.some((r) => !r.ended)) {
      handler.runs.find((r) => !r.ended)!.release();
      await settle();
      expect(handler.running).toBeLessThanOrEqual(3);
    }
    expect(handler.runs).toHaveLength(9);
    expect(handler.mostRunning).toBe(3);
  });

  it('commits nothing past a record not done, however many after it are, and then jumps to the end', async () => {
    const { engine, handler, release, commits, take, tick } = engineWith();
    await engine.joined({ [TOPIC]: [0] });
    // The batch ends at 14, a transaction's marker past its last record.
    await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c'], [13, 'd']], 14));
    await release(0, 13, 12, 11);
    await tick();
    expect(commits.history(0)).toEqual([]);

    await release(0, 10);
    await tick();
    expect(commits.history(0)).toEqual([15n]);
    expect(engine.held()).toEqual([{ topic: TOPIC, partition: 0, records: 0 }]);
  });

  it('lets the other keys of a partition flow past a key whose handler hangs, committing nothing past it', async () => {
    const { engine, handler, release, commits, take, tick } = engineWith();
    await engine.joined({ [TOPIC]: [0, 1] });
    await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'a'], [13, 'c'], [14, 'b']]));
    await take(batch(1, 20, [[20, 'd']]));
    // 10 (key a) never ends; b, c flow, b's second record after its first.
    expect(handler.started(0)).toEqual([10, 11, 13]);
    await release(0, 11);
    handler.release(0, 13, 14);
    await release(1, 20);
    await tick();
    expect(handler.started(0)).toEqual([10, 11, 13, 14]);
    expect({ inFlight: engine.inFlight, waiting: engine.waiting }).toEqual({ inFlight: 1, waiting: 1 });
    expect(commits.history(0)).toEqual([]);
    // The other partition is not held by it either.
    expect(commits.history(1)).toEqual([21n]);
    expect(engine.held()).toEqual([
      { topic: TOPIC, partition: 0, records: 5 },
      { topic: TOPIC, partition: 1, records: 0 },
    ]);
  });

  it('retries a failed record after its backoff, holding its key only, and lets the key go on once it succeeds', async () => {
    const { engine, handler, release, commits, retries, timers, retried, lines, clock, take, tick } = engineWith();
    await engine.joined({ [TOPIC]: [0] });
    await take(batch(0, 10, [[10, 'a'], [11, 'a'], [12, 'b']]));
    handler.run(0, 10).fail(new Error('database down'));
    await settle();
    expect(retries.stalled()).toEqual([expect.objectContaining({ topic: TOPIC, partition: 0, offset: '10', attempts: 1, lastError: 'Error: database down', records: 1 })]);
    expect(retried).toEqual([TOPIC]);
    expect(lines).toEqual([expect.stringMatching(/^WARN payment-successful\[0\]@10 failed, not by its own fault \(attempt 1\): Error: database down; its key waits, retrying in 1000 ms$/)]);
    expect(timers.delays()).toContain(FIRST_RETRY_MS);

    // Key b goes on; key a waits, and nothing is committed past 10.
    await release(0, 12);
    await tick();
    expect(handler.started(0)).toEqual([10, 12]);
    expect(commits.history(0)).toEqual([]);

    clock.advance(FIRST_RETRY_MS);
    expect(timers.fire(FIRST_RETRY_MS)).toBe(1);
    await settle();
    expect(handler.started(0)).toEqual([10, 12, 10]);
    expect(retries.stalled()).toHaveLength(1);
    await release(0, 10);
    expect(handler.started(0)).toEqual([10, 12, 10, 11]);
    expect(retries.stalled()).toEqual([]);
    expect(lines.at(-1)).toMatch(/^payment-successful\[0\]@10 handled after 1 retries \(.* s\): its key flows again$/);
    await release(0, 11);
    await tick();
    expect(commits.history(0)).toEqual([13n]);
  });

  it('gives records without a key one lane per partition', async () => {
    const { engine, handler, release, take } = engineWith();
    await engine.joined({ [TOPIC]: [0, 1] });
    await take(batch(0, 10, [[10, null], [11, null], [12, 'k']]));
    await take(batch(1, 20, [[20, null]]));
    expect(handler.started(0)).toEqual([10, 12]);
    expect(handler.started(1)).toEqual([20]);
    await release(0, 10);
    expect(handler.started(0)).toEqual([10, 12, 11]);
    expect(handler.overlaps).toEqual([]);
  });

  it("with order 'partition', runs one record at a time per partition, in offset order, partitions side by side", async () => {
    const { engine, handler, release, take } = engineWith({ order: 'partition' });
    await engine.joined({ [TOPIC]: [0, 1] });
    await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, null]]));
    await take(batch(1, 20, [[20, 'c'], [21, 'd']]));
    expect(handler.started(0)).toEqual([10]);
    expect(handler.started(1)).toEqual([20]);
    for (const offset of [10, 11]) {
      await release(0, offset);
    }
    await release(1, 20);
    expect(handler.started(0)).toEqual([10, 11, 12]);
    expect(handler.started(1)).toEqual([20, 21]);
    expect(handler.overlaps).toEqual([]);
  });

  describe('at a new generation', () => {
    it('gives up a partition no longer assigned: its record finishing later commits nothing', async () => {
      const { engine, handler, release, commits, take, tick } = engineWith();
      await engine.joined({ [TOPIC]: [0, 1] });
      await take(batch(0, 10, [[10, 'a']]));
      await take(batch(1, 20, [[20, 'b'], [21, 'b']]));
      await engine.joined({ [TOPIC]: [0] });
      expect(engine.held().map((h) => h.partition)).toEqual([0]);
      await release(1, 20);
      await tick();
      expect(commits.history(1)).toEqual([]);
      // Its waiting record was dropped with it: the next owner runs it.
      expect(handler.started(1)).toEqual([20]);
      expect(engine.waiting).toBe(0);
    });

    it('keeps the state of a partition it keeps when its next batch starts at the committed offset: nothing runs twice', async () => {
      const { engine, handler, release, commits, take, tick } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c']]));
      await release(0, 10);
      await tick();
      expect(commits.history(0)).toEqual([11n]);

      await engine.joined({ [TOPIC]: [0] });
      // kafkajs fetches again from the committed offset: 11 and 12 are running still.
      const again = batch(0, 11, [[11, 'b'], [12, 'c'], [13, 'd']]);
      expect(await take(again)).toBe(true);
      expect(await take(again)).toBe(true);
      expect(handler.started(0)).toEqual([10, 11, 12, 13]);
      await release(0, 11, 12, 13);
      await tick();
      expect(commits.history(0)).toEqual([11n, 14n]);
    });

    it('begins a kept partition again when its next batch starts elsewhere: the old records commit nothing, a key still running holds its lane', async () => {
      const { engine, handler, release, commits, lines, take, tick } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c']]));
      await release(0, 10);
      await tick();
      expect(commits.history(0)).toEqual([11n]);

      await engine.joined({ [TOPIC]: [0] });
      // Another member committed up to 15 meanwhile.
      expect(await take(batch(0, 15, [[15, 'b'], [16, 'e']]))).toBe(true);
      expect(lines).toContain(`${TOPIC}[0]: the group's offset moved to 15 meanwhile; resuming from there`);
      // 15 has the key of 11, which is still running: it waits for it.
      expect(handler.started(0)).toEqual([10, 11, 12, 16]);
      await release(0, 11);
      expect(handler.started(0)).toEqual([10, 11, 12, 16, 15]);
      await release(0, 12);
      await tick();
      expect(commits.history(0)).toEqual([11n]);
      await release(0, 15, 16);
      await tick();
      expect(commits.history(0)).toEqual([11n, 17n]);
      expect(handler.overlaps).toEqual([]);
    });

    // Records finishing between the join and the partition's confirming batch request a tick that skips the
    // unconfirmed state; the confirming batch, with nothing new, must request one itself.
    it('commits what a kept partition finished during the rebalance once its next batch confirms it', async () => {
      const { engine, release, commits, take, tick } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a'], [11, 'b']]));
      await engine.joined({ [TOPIC]: [0] });
      await release(0, 10, 11);
      await tick();
      expect(commits.history(0)).toEqual([]);
      // The partition is idle: kafkajs fetches from the committed offset and brings nothing new.
      expect(await take(batch(0, 10, [[10, 'a'], [11, 'b']]))).toBe(true);
      await tick();
      expect(commits.history(0)).toEqual([12n]);
    });

    // A record whose retry is due while every place is taken waits in the ready queue, no longer held; if its
    // partition is given up meanwhile, it must not run once a place frees.
    it('does not run the retry of a record whose partition was given up while it waited for a place', async () => {
      const { engine, handler, release, timers, take } = engineWith({ maxInFlight: 1 });
      await engine.joined({ [TOPIC]: [0, 1] });
      await take(batch(0, 10, [[10, 'a']]));
      handler.run(0, 10).fail();
      await settle();
      await take(batch(1, 20, [[20, 'b']]));
      timers.fire(FIRST_RETRY_MS);
      await settle();
      await engine.joined({ [TOPIC]: [1] });
      await release(1, 20);
      expect(handler.started(0)).toEqual([10]);
    });

    it('drops the retry of a record of a partition given up: it runs no more', async () => {
      const { engine, handler, retries, timers, take } = engineWith();
      await engine.joined({ [TOPIC]: [0, 1] });
      await take(batch(0, 10, [[10, 'a'], [11, 'a']]));
      handler.run(0, 10).fail();
      await settle();
      await engine.joined({ [TOPIC]: [1] });
      expect(retries.stalled()).toEqual([]);
      timers.fire(FIRST_RETRY_MS);
      await settle();
      expect(handler.started(0)).toEqual([10]);
      expect({ inFlight: engine.inFlight, waiting: engine.waiting }).toEqual({ inFlight: 0, waiting: 0 });
    });

    // Confirming a kept partition must not end the stall of its record held for a retry (the stall that ends
    // there is that of a failed take-over only).
    it('keeps the stall of a record held for a retry across a rebalance that keeps its partition', async () => {
      const { engine, handler, retries, timers, clock, take } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a']]));
      handler.run(0, 10).fail();
      await settle();
      const since = retries.failingSince(TOPIC, 0, '10');
      await engine.joined({ [TOPIC]: [0] });
      expect(await take(batch(0, 10, [[10, 'a']]))).toBe(true);
      expect(retries.stalled()).toEqual([expect.objectContaining({ offset: '10', attempts: 1 })]);
      clock.advance(FIRST_RETRY_MS);
      timers.fire(FIRST_RETRY_MS);
      await settle();
      handler.run(0, 10).fail();
      await settle();
      expect(retries.attemptsOf(TOPIC, 0, '10')).toBe(2);
      expect(retries.failingSince(TOPIC, 0, '10')).toBe(since);
    });
  });

  describe('exactly once, taking a partition over', () => {
    it('runs only the records the metadata of the group’s offset does not name as finished', async () => {
      const group = new Map([[0, { offset: '10', metadata: encodeFinished(10n, [11n, 13n]) }]]);
      const { engine, intake, handler, release, commits, lines, take, tick } = engineWith({}, exactlyOnceGroup(group));
      await engine.joined({ [TOPIC]: [0] });
      expect(await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c'], [13, 'd'], [14, 'e']]))).toBe(true);
      expect(handler.started(0)).toEqual([10, 12, 14]);
      expect(lines).toContain(`${TOPIC}[0]: 2 record(s) past 10 were finished by the previous owner; skipping them`);
      expect(intake.get(TOPIC, 0)).toMatchObject({ committed: 10n, committedMetadata: encodeFinished(10n, [11n, 13n]), held: 5 });
      expect({ inFlight: engine.inFlight, waiting: engine.waiting }).toEqual({ inFlight: 3, waiting: 0 });

      await release(0, 12, 14);
      await tick();
      expect(commits.history(0)).toEqual([]);
      await release(0, 10);
      await tick();
      expect(commits.history(0)).toEqual([15n]);
      expect(handler.started(0)).toEqual([10, 12, 14]);
    });

    it('keeps a state whose offset and metadata are the group’s, and begins one again whose metadata differs', async () => {
      const metadata = encodeFinished(10n, [12n]);
      const group = new Map([[0, { offset: '10', metadata }]]);
      const { engine, intake, handler, release, lines, take } = engineWith({}, exactlyOnceGroup(group));
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c'], [13, 'd']]));
      expect(handler.started(0)).toEqual([10, 11, 13]);
      const first = intake.get(TOPIC, 0);

      // Rejoined, the group holds what this state last knew: it goes on, nothing runs twice.
      await engine.joined({ [TOPIC]: [0] });
      expect(await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c'], [13, 'd'], [14, 'e']]))).toBe(true);
      expect(intake.get(TOPIC, 0)).toBe(first);
      expect(handler.started(0)).toEqual([10, 11, 13, 14]);

      // Another member committed 13 ahead meanwhile, at the same offset: the state begins again from the group's.
      group.set(0, { offset: '10', metadata: encodeFinished(10n, [12n, 13n]) });
      await engine.joined({ [TOPIC]: [0] });
      expect(await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c'], [13, 'd'], [14, 'e'], [15, 'f']]))).toBe(true);
      const second = intake.get(TOPIC, 0)!;
      expect(second).not.toBe(first);
      expect(first!.revoked).toBe(true);
      expect(second).toMatchObject({ committed: 10n, committedMetadata: encodeFinished(10n, [12n, 13n]), held: 6 });
      expect(lines.at(-1)).toBe(`${TOPIC}[0]: 2 record(s) past 10 were finished by the previous owner; skipping them`);
      // 12 and 13 are not run again; 10, 11, 14 wait for their runs of the old state, 15 starts.
      expect(handler.started(0)).toEqual([10, 11, 13, 14, 15]);
      await release(0, 10, 11, 14);
      expect(handler.started(0)).toEqual([10, 11, 13, 14, 15, 10, 11, 14]);
      expect(handler.overlaps).toEqual([]);
    });
  });

  describe('stopping', () => {
    it('takes no batch, starts no record, waits for those in flight, then commits once', async () => {
      const { engine, handler, release, commits, timers, take } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'a'], [13, 'c']]));
      let drained = false;
      const draining = engine.drain(GRACE_MS).then(() => void (drained = true));
      expect(await take(batch(0, 14, [[14, 'd']]))).toBe(false);
      await release(0, 10, 11);
      // 12 (key a) waited for 10: it does not start now.
      expect(handler.started(0)).toEqual([10, 11, 13]);
      expect(drained).toBe(false);
      expect(commits.rounds).toEqual([]);
      handler.release(0, 13);
      await draining;
      expect(commits.rounds).toEqual([[{ topic: TOPIC, partition: 0, next: 12n }]]);
      expect(timers.delays()).toEqual([]);
    });

    it('stops waiting for a record that never ends after the grace, and commits what is done before it', async () => {
      const { engine, release, commits, timers, take } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c']]));
      await release(0, 10, 12);
      let drained = false;
      const draining = engine.drain(GRACE_MS).then(() => void (drained = true));
      await settle();
      expect(drained).toBe(false);
      expect(timers.fire(GRACE_MS)).toBe(1);
      await draining;
      expect(commits.rounds.at(-1)).toEqual([{ topic: TOPIC, partition: 0, next: 11n }]);
      expect(timers.delays()).toEqual([]);
    });

    it('gives up a last commit the broker does not answer after the grace', async () => {
      const { engine, release, commits, timers, take } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a']]));
      await release(0, 10);
      commits.answer = new Promise<void>(() => undefined);
      let gaveUp = 0;
      let drained = false;
      const draining = engine.drain(GRACE_MS, () => void (gaveUp += 1)).then(() => void (drained = true));
      await settle();
      expect(commits.rounds.at(-1)).toEqual([{ topic: TOPIC, partition: 0, next: 11n }]);
      expect({ gaveUp, drained }).toEqual({ gaveUp: 0, drained: false });
      timers.fire(GRACE_MS);
      await settle();
      expect({ gaveUp, drained }).toEqual({ gaveUp: 1, drained: false });
      timers.fire(GRACE_MS + 100);
      await draining;
      expect(drained).toBe(true);
    });
  });

  describe('when a partition’s transaction fails', () => {
    it.each([
      [false, 'failed: Error: transaction timed out'],
      [true, 'was fenced (another member claimed the partition)'],
    ])('(fenced: %s) gives its work up, seeks it back to its commit, and takes it again only once heartbeats confirm the owner', async (fenced, why) => {
      const { engine, intake, handler, release, commits, retries, calls, lines, clock, take, tick } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      const first = batch(0, 10, [[10, 'a'], [11, 'b'], [12, 'c']]);
      await take(first);
      await release(0, 10);
      await tick();
      expect(commits.history(0)).toEqual([11n]);

      engine.transactionFailed(intake.get(TOPIC, 0)!, new Error('transaction timed out'), fenced);
      expect(calls).toEqual([`pause ${TOPIC}[0]`, `seek ${TOPIC}[0] 11`]);
      expect(retries.stalled()).toEqual([expect.objectContaining({ partition: 0, offset: '11', attempts: 1 })]);
      expect(lines.at(-1)).toBe(`WARN ${TOPIC}[0]: its transaction ${why}; the uncommitted work is discarded, waiting for the group to confirm the owner`);
      await release(0, 11, 12);
      await tick();
      expect(commits.history(0)).toEqual([11n]);

      // Fetched again from 11, it may be another member's by now: not taken until the group says.
      const refetched = batch(0, 11, [[11, 'b'], [12, 'c'], [13, 'd']]);
      expect(await take(refetched)).toBe(false);
      clock.advance(3000);
      engine.heartbeat();
      expect(await take(refetched)).toBe(false);
      expect(calls).not.toContain(`resume ${TOPIC}[0]`);
      clock.advance(3000);
      engine.heartbeat();
      expect(calls.at(-1)).toBe(`resume ${TOPIC}[0]`);
      expect(lines.at(-1)).toBe(`${TOPIC}[0]: the group confirms this member still owns it; claiming it again`);

      expect(await take(refetched)).toBe(true);
      expect(handler.started(0)).toEqual([10, 11, 12, 11, 12, 13]);
      expect(retries.stalled()).toEqual([]);
      await release(0, 11, 12, 13);
      await tick();
      expect(commits.history(0)).toEqual([11n, 14n]);
    });

    it('ignores a late failure of a state that is no longer the partition’s, of this generation or an earlier one', async () => {
      const { engine, intake, handler, release, commits, calls, clock, take, tick } = engineWith();
      await engine.joined({ [TOPIC]: [0] });
      await take(batch(0, 10, [[10, 'a']]));
      // A transaction of the earlier generation, aborted by this member's own claim at the join: the state goes on.
      await engine.joined({ [TOPIC]: [0] });
      engine.transactionFailed(intake.get(TOPIC, 0)!, new Error('transaction aborted'), false);
      expect(calls).toEqual([]);
      expect(await take(batch(0, 10, [[10, 'a']]))).toBe(true);
      await release(0, 10);
      await tick();
      expect(commits.history(0)).toEqual([11n]);
      await take(batch(0, 11, [[11, 'b']]));

      // In this generation: a state given up after its transaction failed, and taken again since.
      const failed = intake.get(TOPIC, 0)!;
      engine.transactionFailed(failed, new Error('transaction timed out'), false);
      for (let beat = 0; beat < 2; beat++) {
        clock.advance(3000);
        engine.heartbeat();
      }
      expect(await take(batch(0, 11, [[11, 'b'], [12, 'c']]))).toBe(true);
      calls.length = 0;
      engine.transactionFailed(failed, new Error('transaction timed out'), false);
      expect(calls).toEqual([]);
      // The new 11 waits for the old one, still running, of its key.
      expect(handler.started(0)).toEqual([10, 11, 12]);
      await release(0, 11);
      await release(0, 11, 12);
      await tick();
      expect(commits.history(0)).toEqual([11n, 13n]);
      expect(handler.started(0)).toEqual([10, 11, 12, 11]);
    });
  });
});
