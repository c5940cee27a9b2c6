import { KafkaJSProtocolError, type KafkaMessage, type TopicPartitionOffset } from 'kafkajs';
import { CommitSchedule, OffsetCommits, TransactionCommits, type CommitReports, type Timers } from './commits';
import { decodeFinished, encodeFinished } from './offset-metadata';
import { PartitionState, type HeldRecord } from './partition-state';
import type { PartitionTransactions, StagedEvents } from './partition-transactions';

const message = (offset: number): KafkaMessage => ({ key: null, value: null, timestamp: '0', attributes: 0, offset: String(offset), headers: {} });

/** A state at `start` holding the records at `offsets`. */
function holding(topic: string, partition: number, start: number, offsets: number[]): { state: PartitionState; records: HeldRecord[] } {
  const state = new PartitionState(topic, partition, BigInt(start), 1);
  const records = state.take(offsets.map(message), String(offsets[offsets.length - 1] ?? start - 1));
  return { state, records };
}

const staged = (topic: string, ...keys: string[]): StagedEvents => ({ topic, events: keys.map((key) => ({ key, value: { key } })) });

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Lets every promise callback queued so far run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('OffsetCommits', () => {
  it('commits every committable partition in one request, at the offset after its leading done records', async () => {
    const sent: TopicPartitionOffset[][] = [];
    const commits = new OffsetCommits(async (offsets) => void sent.push(offsets));
    const a = holding('in', 0, 0, [0, 1, 2]);
    const b = holding('in', 1, 10, [10, 11]);
    const c = holding('other', 0, 5, [5]);
    a.state.complete(a.records[0]);
    a.state.complete(a.records[2]);
    b.state.complete(b.records[0]);
    b.state.complete(b.records[1]);
    // c: nothing done, nothing to commit.

    await commits.commit([a.state, b.state, c.state]);
    expect(sent).toEqual([
      [
        { topic: 'in', partition: 0, offset: '1' },
        { topic: 'in', partition: 1, offset: '12' },
      ],
    ]);
    expect(a.state).toMatchObject({ committed: 1n, held: 2 });
    expect(b.state).toMatchObject({ committed: 12n, held: 0 });
    expect(c.state).toMatchObject({ committed: 5n, held: 1 });
  });

  it('sends nothing when nothing is committable', async () => {
    const send = jest.fn(async () => undefined);
    const commits = new OffsetCommits(send);
    const a = holding('in', 0, 0, [0, 1]);
    a.state.complete(a.records[1]);
    await commits.commit([a.state, holding('in', 1, 3, []).state]);
    await commits.commit([]);
    expect(send).not.toHaveBeenCalled();
  });

  it('reports a failed commit and keeps the records, which the next round sends again', async () => {
    const failure = new Error('coordinator away');
    const send = jest.fn<Promise<void>, [TopicPartitionOffset[]]>().mockRejectedValueOnce(failure).mockResolvedValue(undefined);
    const reports: CommitReports = { commitFailed: jest.fn() };
    const commits = new OffsetCommits(send, reports);
    const a = holding('in', 0, 0, [0, 1]);
    for (const record of a.records) a.state.complete(record);

    await expect(commits.commit([a.state])).resolves.toBeUndefined();
    expect(reports.commitFailed).toHaveBeenCalledWith(failure);
    expect(a.state).toMatchObject({ committed: 0n, held: 2 });

    await commits.commit([a.state]);
    expect(send.mock.calls).toEqual([[[{ topic: 'in', partition: 0, offset: '2' }]], [[{ topic: 'in', partition: 0, offset: '2' }]]]);
    expect(reports.commitFailed).toHaveBeenCalledTimes(1);
    expect(a.state).toMatchObject({ committed: 2n, held: 0 });
  });

  it('commits a partition whose batch held transaction markers only', async () => {
    const sent: TopicPartitionOffset[][] = [];
    const commits = new OffsetCommits(async (offsets) => void sent.push(offsets));
    const state = new PartitionState('in', 0, 7n, 1);
    state.take([], '8');
    await commits.commit([state]);
    expect(sent).toEqual([[{ topic: 'in', partition: 0, offset: '9' }]]);
    expect(state.committed).toBe(9n);
  });
});

describe('TransactionCommits', () => {
  /** A PartitionTransactions stand-in that records each commit, and fails those it is told to. */
  function fakeTransactions() {
    const commits: Array<{ topic: string; partition: number; staged: StagedEvents[]; next: string; metadata?: string }> = [];
    const failures: unknown[] = [];
    const transactions = {
      commit: async (topic: string, partition: number, stagedEvents: StagedEvents[], next: string, metadata?: string) => {
        commits.push({ topic, partition, staged: stagedEvents, next, metadata });
        if (failures.length > 0) throw failures.shift();
      },
    } as unknown as PartitionTransactions;
    return { transactions, commits, failNext: (error: unknown) => failures.push(error) };
  }

  function reporting() {
    const committed: Array<{ state: PartitionState; sent: Record<string, number> }> = [];
    const failed: Array<{ state: PartitionState; error: unknown; fenced: boolean }> = [];
    const reports: CommitReports = {
      committed: (state, sent) => committed.push({ state, sent: Object.fromEntries(sent) }),
      transactionFailed: (state, error, fenced) => failed.push({ state, error, fenced }),
    };
    return { reports, committed, failed };
  }

  it('commits the done records with exactly their events; a later done record goes ahead, named in the metadata', async () => {
    const { transactions, commits } = fakeTransactions();
    const { reports, committed } = reporting();
    const strategy = new TransactionCommits(transactions, reports);
    const { state, records } = holding('in', 0, 0, [0, 1, 2, 3]);
    state.complete(records[0], [staged('out', 'a'), staged('dlq', 'a-dead')]);
    state.complete(records[2], [staged('out', 'c')]);

    await strategy.commit([state]);
    // The offset stays at the gap (1); 2's events leave now, its offset in the metadata.
    expect(commits).toEqual([
      { topic: 'in', partition: 0, staged: [staged('out', 'a'), staged('dlq', 'a-dead'), staged('out', 'c')], next: '1', metadata: encodeFinished(1n, [2n]) },
    ]);
    expect(decodeFinished(1n, commits[0].metadata)).toEqual(new Set([2n]));
    expect(state).toMatchObject({ committed: 1n, committedMetadata: encodeFinished(1n, [2n]), held: 3 });
    expect(committed).toEqual([{ state, sent: { out: 2, dlq: 1 } }]);

    // Nothing new is done: no transaction.
    await strategy.commit([state]);
    expect(commits).toHaveLength(1);

    // The gap is done: the next transaction carries its events only, and the offset moves past both.
    state.complete(records[1], [staged('out', 'b1', 'b2')]);
    await strategy.commit([state]);
    expect(commits[1]).toEqual({ topic: 'in', partition: 0, staged: [staged('out', 'b1', 'b2')], next: '3', metadata: '' });
    expect(committed[1]).toEqual({ state, sent: { out: 2 } });
    expect(state).toMatchObject({ committed: 3n, committedMetadata: '', held: 1 });
  });

  it('commits a record done ahead with the metadata changed only, at the same offset', async () => {
    const { transactions, commits } = fakeTransactions();
    const strategy = new TransactionCommits(transactions);
    const { state, records } = holding('in', 0, 5, [5, 6, 7]);
    state.complete(records[1], [staged('out', 'b')]);
    await strategy.commit([state]);
    state.complete(records[2]);
    await strategy.commit([state]);
    expect(commits).toEqual([
      { topic: 'in', partition: 0, staged: [staged('out', 'b')], next: '5', metadata: encodeFinished(5n, [6n]) },
      { topic: 'in', partition: 0, staged: [], next: '5', metadata: encodeFinished(5n, [6n, 7n]) },
    ]);
    expect(state).toMatchObject({ committed: 5n, committedMetadata: encodeFinished(5n, [6n, 7n]), held: 3 });
  });

  it('skips, and names in no commit, the records an earlier owner committed ahead', async () => {
    const { transactions, commits } = fakeTransactions();
    const strategy = new TransactionCommits(transactions);
    const metadata = encodeFinished(10n, [11n, 13n]);
    const state = new PartitionState('in', 0, 10n, 1, decodeFinished(10n, metadata), metadata);
    const taken = state.take([10, 11, 12, 13, 14].map(message), '14');
    expect(taken.map((r) => r.offset)).toEqual(['10', '12', '14']);
    await strategy.commit([state]);
    expect(commits).toEqual([]);

    state.complete(taken[1], [staged('out', 'c')]);
    await strategy.commit([state]);
    expect(commits).toEqual([{ topic: 'in', partition: 0, staged: [staged('out', 'c')], next: '10', metadata: encodeFinished(10n, [11n, 12n, 13n]) }]);
    state.complete(taken[0], [staged('out', 'a')]);
    await strategy.commit([state]);
    expect(commits[1]).toEqual({ topic: 'in', partition: 0, staged: [staged('out', 'a')], next: '14', metadata: '' });
  });

  it('commits each partition in a transaction of its own, and none for a partition with nothing to commit', async () => {
    const { transactions, commits } = fakeTransactions();
    const { reports, committed } = reporting();
    const strategy = new TransactionCommits(transactions, reports);
    const a = holding('in', 0, 0, [0]);
    const b = holding('in', 1, 4, [4, 5]);
    const c = holding('in', 2, 0, [0]);
    a.state.complete(a.records[0], [staged('out', 'a')]);
    b.state.complete(b.records[0]);
    b.state.complete(b.records[1], [staged('out', 'b')]);

    await strategy.commit([a.state, b.state, c.state]);
    expect(commits).toEqual([
      { topic: 'in', partition: 0, staged: [staged('out', 'a')], next: '1', metadata: '' },
      { topic: 'in', partition: 1, staged: [staged('out', 'b')], next: '6', metadata: '' },
    ]);
    expect(committed.map((r) => [r.state.partition, r.sent])).toEqual([
      [0, { out: 1 }],
      [1, { out: 1 }],
    ]);
    expect(c.state.committed).toBe(0n);
  });

  it('commits the offset alone when the done records published nothing', async () => {
    const { transactions, commits } = fakeTransactions();
    const { reports, committed } = reporting();
    const strategy = new TransactionCommits(transactions, reports);
    const { state, records } = holding('in', 0, 0, [0]);
    state.complete(records[0]);
    await strategy.commit([state]);
    expect(commits).toEqual([{ topic: 'in', partition: 0, staged: [], next: '1', metadata: '' }]);
    expect(committed).toEqual([{ state, sent: {} }]);
  });

  it('reports a fenced transaction as fenced, and leaves the state where it was', async () => {
    const { transactions, failNext } = fakeTransactions();
    const { reports, committed, failed } = reporting();
    const strategy = new TransactionCommits(transactions, reports);
    const { state, records } = holding('in', 0, 0, [0, 1]);
    state.complete(records[0], [staged('out', 'a')]);
    const fenced = new KafkaJSProtocolError(Object.assign(new Error('fenced'), { type: 'PRODUCER_FENCED', code: 90, retriable: false }));
    failNext(fenced);

    await expect(strategy.commit([state])).resolves.toBeUndefined();
    expect(failed).toEqual([{ state, error: fenced, fenced: true }]);
    expect(committed).toEqual([]);
    expect(state).toMatchObject({ committed: 0n, committedMetadata: '', held: 2 });
    expect(records[0].committedAhead).toBe(false);
    expect(state.committable({ ahead: true })).toEqual({ records: [records[0]], next: 1n, finished: [] });
  });

  it('reports any other failure as not fenced', async () => {
    const { transactions, commits, failNext } = fakeTransactions();
    const { reports, committed, failed } = reporting();
    const strategy = new TransactionCommits(transactions, reports);
    const a = holding('in', 0, 0, [0]);
    const b = holding('in', 1, 0, [0]);
    a.state.complete(a.records[0]);
    b.state.complete(b.records[0]);
    const error = new Error('broker away');
    failNext(error);

    await strategy.commit([a.state, b.state]);
    expect(commits.map((c) => c.partition)).toEqual([0, 1]);
    expect(failed).toEqual([{ state: a.state, error, fenced: false }]);
    // The other partition's transaction is its own.
    expect(committed.map((r) => r.state)).toEqual([b.state]);
    expect(a.state.committed).toBe(0n);
    expect(b.state.committed).toBe(1n);
  });
});

describe('CommitSchedule', () => {
  /** Timers whose callbacks the spec fires. */
  function fakeTimers() {
    const armed = new Map<number, { callback: () => void; ms: number }>();
    const cleared: unknown[] = [];
    let next = 0;
    const timers: Timers = {
      setTimeout: (callback, ms) => {
        armed.set(++next, { callback, ms });
        return next;
      },
      clearTimeout: (handle) => {
        cleared.push(handle);
        armed.delete(handle as number);
      },
    };
    const fire = () => {
      const entries = [...armed.entries()];
      armed.clear();
      for (const [, timer] of entries) timer.callback();
    };
    return { timers, armed, cleared, fire };
  }

  /** A round that counts its runs and how many run at once, each ending when the spec says. */
  function rounds() {
    const pending: Array<ReturnType<typeof deferred>> = [];
    let running = 0;
    let most = 0;
    let runs = 0;
    const round = () => {
      runs++;
      running++;
      most = Math.max(most, running);
      const d = deferred();
      pending.push(d);
      return d.promise.finally(() => running--);
    };
    return { round, pending, runs: () => runs, most: () => most };
  }

  it('arms one timer for any number of requests, and runs a round when it fires', async () => {
    const { timers, armed, fire } = fakeTimers();
    const { round, runs, pending } = rounds();
    const schedule = new CommitSchedule(250, round, timers);
    schedule.request();
    schedule.request();
    schedule.request();
    expect([...armed.values()].map((t) => t.ms)).toEqual([250]);
    await settle();
    expect(runs()).toBe(0);

    fire();
    await settle();
    expect(runs()).toBe(1);
    // Once fired, a request arms the next tick.
    schedule.request();
    expect(armed.size).toBe(1);
    pending[0].resolve();
    fire();
    await settle();
    expect(runs()).toBe(2);
  });

  it('runs a round asked for now after the one under way, never two at once', async () => {
    const { timers } = fakeTimers();
    const { round, runs, pending, most } = rounds();
    const schedule = new CommitSchedule(250, round, timers);
    let firstDone = false;
    let secondDone = false;
    void schedule.now().then(() => (firstDone = true));
    const second = schedule.now().then(() => (secondDone = true));
    await settle();
    expect(runs()).toBe(1);

    pending[0].resolve();
    await settle();
    expect(firstDone).toBe(true);
    expect(secondDone).toBe(false);
    expect(runs()).toBe(2);
    pending[1].resolve();
    await second;
    expect(most()).toBe(1);
  });

  it('goes on after a round that failed', async () => {
    const { timers } = fakeTimers();
    const { round, runs, pending } = rounds();
    const schedule = new CommitSchedule(250, round, timers);
    const first = schedule.now();
    const second = schedule.now();
    await settle();
    pending[0].reject(new Error('round failed'));
    await expect(first).resolves.toBeUndefined();
    await settle();
    expect(runs()).toBe(2);
    pending[1].resolve();
    await expect(second).resolves.toBeUndefined();
  });

  it('runs a tick after the round under way', async () => {
    const { timers, fire } = fakeTimers();
    const { round, runs, pending, most } = rounds();
    const schedule = new CommitSchedule(250, round, timers);
    void schedule.now();
    schedule.request();
    fire();
    await settle();
    expect(runs()).toBe(1);
    pending[0].resolve();
    await settle();
    expect(runs()).toBe(2);
    expect(most()).toBe(1);
  });

  it('once stopped, clears its timer and ignores requests; a round asked for now still runs', async () => {
    const { timers, armed, cleared, fire } = fakeTimers();
    const { round, runs, pending } = rounds();
    const schedule = new CommitSchedule(250, round, timers);
    schedule.request();
    const [handle] = armed.keys();
    schedule.stop();
    expect(cleared).toEqual([handle]);
    expect(armed.size).toBe(0);
    schedule.request();
    expect(armed.size).toBe(0);
    fire();
    await settle();
    expect(runs()).toBe(0);

    const last = schedule.now();
    await settle();
    expect(runs()).toBe(1);
    pending[0].resolve();
    await last;
  });

  it('clears nothing when stopped with no timer armed', () => {
    const { timers, cleared } = fakeTimers();
    const schedule = new CommitSchedule(250, rounds().round, timers);
    schedule.stop();
    expect(cleared).toEqual([]);
  });
});
