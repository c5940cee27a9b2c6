import type { KafkaMessage } from 'kafkajs';
import { encodeFinished, MAX_SPAN } from './offset-metadata';
import { PartitionState, type HeldRecord } from './partition-state';

const message = (offset: number | bigint): KafkaMessage => ({
  key: null,
  value: null,
  timestamp: '0',
  attributes: 0,
  offset: offset.toString(),
  headers: {},
});

const batch = (...offsets: number[]) => offsets.map(message);
const offsetsOf = (records: readonly HeldRecord[]) => records.map((r) => Number(r.offset));

/** Takes the given offsets into `state`, the batch ending at its last record. */
function takeOffsets(state: PartitionState, ...offsets: number[]): HeldRecord[] {
  return state.take(batch(...offsets), String(offsets[offsets.length - 1]));
}

describe('PartitionState', () => {
  it('starts at the offset it is given, holding nothing and with nothing to commit', () => {
    const state = new PartitionState('in', 3, 5n, 2);
    expect(state).toMatchObject({ topic: 'in', partition: 3, generation: 2, end: 5n, committed: 5n, held: 0, revoked: false });
    expect(state.firstUnfinished).toBeUndefined();
    expect(state.committable()).toBeUndefined();
  });

  it('takes only the records at or past its end, and moves the end past the last one', () => {
    const state = new PartitionState('in', 0, 5n, 1);
    const taken = takeOffsets(state, 3, 4, 5, 6);
    expect(offsetsOf(taken)).toEqual([5, 6]);
    expect(taken.every((r) => r.state === state && !r.done && r.staged.length === 0)).toBe(true);
    expect(taken.map((r) => r.offsetNumber)).toEqual([5n, 6n]);
    expect(state.end).toBe(7n);
    expect(state.held).toBe(2);
  });

  it('does not take a record twice when a fetch brings it again (kafkajs refetches from the committed offset after a rejoin)', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const first = takeOffsets(state, 0, 1, 2);
    const again = takeOffsets(state, 0, 1, 2, 3);
    expect(offsetsOf(first)).toEqual([0, 1, 2]);
    expect(offsetsOf(again)).toEqual([3]);
    expect(takeOffsets(state, 1, 2)).toEqual([]);
    expect(state.held).toBe(4);
    expect(state.end).toBe(4n);
  });

  it('moves its end past a last offset that lies beyond the last record (a transaction marker)', () => {
    const state = new PartitionState('in', 0, 5n, 1);
    const taken = state.take(batch(5, 6), '9');
    expect(offsetsOf(taken)).toEqual([5, 6]);
    expect(state.end).toBe(10n);
    for (const record of taken) state.complete(record);
    expect(state.committable()).toEqual({ records: taken, next: 10n, finished: [] });
    // A later fetch from the end starts past the markers and takes what follows.
    expect(offsetsOf(takeOffsets(state, 10))).toEqual([10]);
  });

  it('never moves its end back for a last offset below it', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    takeOffsets(state, 0, 1, 2);
    expect(state.take(batch(0), '0')).toEqual([]);
    expect(state.end).toBe(3n);
  });

  it('commits the leading done records, up to the first unfinished one', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const [r0, r1, r2] = takeOffsets(state, 0, 1, 2);
    expect(state.committable()).toBeUndefined();
    expect(state.firstUnfinished).toBe(r0);

    state.complete(r0);
    expect(state.committable()).toEqual({ records: [r0], next: 1n, finished: [] });
    expect(state.firstUnfinished).toBe(r1);

    state.complete(r1);
    expect(state.committable()).toEqual({ records: [r0, r1], next: 2n, finished: [] });

    state.complete(r2);
    expect(state.committable()).toEqual({ records: [r0, r1, r2], next: 3n, finished: [] });
    expect(state.firstUnfinished).toBeUndefined();
  });

  it('without ahead, keeps a record done out of order from the commit until the one before it is done', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const [r0, r1, r2, r3] = takeOffsets(state, 0, 1, 2, 3);
    state.complete(r2);
    state.complete(r3);
    expect(state.committable()).toBeUndefined();
    state.complete(r0);
    expect(state.committable()).toEqual({ records: [r0], next: 1n, finished: [] });
    state.complete(r1);
    expect(state.committable()).toEqual({ records: [r0, r1, r2, r3], next: 4n, finished: [] });
  });

  it('with ahead, commits a record done out of order at once, the offset staying at the first unfinished one', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const [r0, r1, r2, r3] = takeOffsets(state, 0, 1, 2, 3);
    state.complete(r2);
    const first = state.committable({ ahead: true })!;
    expect(first).toEqual({ records: [r2], next: 0n, finished: [2n] });
    state.committedWith(first, 'm1');
    expect(state).toMatchObject({ committed: 0n, committedMetadata: 'm1', held: 4 });
    expect(r2.committedAhead).toBe(true);
    // Nothing new is done: nothing to commit.
    expect(state.committable({ ahead: true })).toBeUndefined();

    state.complete(r0);
    state.complete(r3);
    const second = state.committable({ ahead: true })!;
    // r2 went with the first commit: not again; it still counts as finished beyond the offset.
    expect(second).toEqual({ records: [r0, r3], next: 1n, finished: [2n, 3n] });
    state.committedWith(second, 'm2');
    expect(state).toMatchObject({ committed: 1n, committedMetadata: 'm2', held: 3 });

    state.complete(r1);
    const third = state.committable({ ahead: true })!;
    expect(third).toEqual({ records: [r1], next: 4n, finished: [] });
    state.committedWith(third, '');
    expect(state).toMatchObject({ committed: 4n, committedMetadata: '', held: 0 });
    expect(state.committable({ ahead: true })).toBeUndefined();
  });

  it('holds the records the metadata says an earlier owner finished as done, and does not hand them out', () => {
    const state = new PartitionState('in', 0, 10n, 1, new Set([11n, 13n]), 'pc1:BQ');
    expect(state.committedMetadata).toBe('pc1:BQ');
    const taken = takeOffsets(state, 10, 11, 12, 13, 14);
    expect(offsetsOf(taken)).toEqual([10, 12, 14]);
    expect(state).toMatchObject({ held: 5, end: 15n });
    expect(state.firstUnfinished?.offset).toBe('10');
    // Nothing new is done: nothing to commit, with or without ahead.
    expect(state.committable()).toBeUndefined();
    expect(state.committable({ ahead: true })).toBeUndefined();

    const [r10, r12, r14] = taken;
    state.complete(r12);
    const first = state.committable({ ahead: true })!;
    // 11 and 13 are in no commit's records (their events left with the earlier owner's), but count as finished.
    expect(first).toEqual({ records: [r12], next: 10n, finished: [11n, 12n, 13n] });
    state.committedWith(first, 'm');
    state.complete(r10);
    const second = state.committable({ ahead: true })!;
    expect(second).toEqual({ records: [r10], next: 14n, finished: [] });
    state.committedWith(second, '');
    state.complete(r14);
    expect(state.committable({ ahead: true })).toEqual({ records: [r14], next: 15n, finished: [] });
    // Without ahead (at least once), they are passed over too.
    const other = new PartitionState('in', 0, 10n, 1, new Set([11n]));
    const [o10] = takeOffsets(other, 10, 11, 12);
    other.complete(o10);
    expect(other.committable()).toEqual({ records: [o10], next: 12n, finished: [] });
  });

  it(`commits ahead only the records within MAX_SPAN (${MAX_SPAN}) of the offset; those further wait for it to come nearer`, () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const [r0, rEdge, rFar, rFarther] = state.take(batch(0, MAX_SPAN, MAX_SPAN + 1, MAX_SPAN + 2), String(MAX_SPAN + 2));
    state.complete(rEdge);
    state.complete(rFar);
    state.complete(rFarther);
    const first = state.committable({ ahead: true })!;
    expect(first).toEqual({ records: [rEdge], next: 0n, finished: [BigInt(MAX_SPAN)] });
    // What it carries fits in the metadata.
    expect(() => encodeFinished(first.next, first.finished)).not.toThrow();
    state.committedWith(first, encodeFinished(first.next, first.finished));
    expect(state.committable({ ahead: true })).toBeUndefined();

    state.complete(r0);
    const second = state.committable({ ahead: true })!;
    expect(second).toEqual({ records: [r0, rFar, rFarther], next: BigInt(MAX_SPAN) + 3n, finished: [] });
  });

  it('counts the records beyond the span as it comes nearer: the first of them within the span, the rest not yet', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const [r0, r1, rFar, rFarther] = state.take(batch(0, 1, MAX_SPAN + 1, MAX_SPAN + 2), String(MAX_SPAN + 2));
    state.complete(rFar);
    state.complete(rFarther);
    expect(state.committable({ ahead: true })).toBeUndefined();
    state.complete(r0);
    const committable = state.committable({ ahead: true })!;
    expect(committable).toEqual({ records: [r0, rFar], next: 1n, finished: [BigInt(MAX_SPAN + 1)] });
    expect(() => encodeFinished(committable.next, committable.finished)).not.toThrow();
    expect(r1.done).toBe(false);
  });

  it('keeps what a record staged with it, for the transaction that commits it', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const [r0] = takeOffsets(state, 0);
    const staged = [{ topic: 'out', events: [{ key: 'k', value: {} }] }];
    state.complete(r0, staged);
    expect(r0.done).toBe(true);
    expect(r0.staged).toBe(staged);
    expect(state.committable()?.records[0].staged).toEqual(staged);
  });

  it('passes over offsets that no record holds (compacted, aborted or markers)', () => {
    const state = new PartitionState('in', 0, 10n, 1);
    const [r10, r12, r15] = takeOffsets(state, 10, 12, 15);
    state.complete(r10);
    state.complete(r15);
    expect(state.committable()).toEqual({ records: [r10], next: 12n, finished: [] });
    state.committedUpTo(12n);
    expect(state.held).toBe(2);
    state.complete(r12);
    expect(state.committable()).toEqual({ records: [r12, r15], next: 16n, finished: [] });
    state.committedUpTo(16n);
    expect(state.held).toBe(0);
    expect(state.committed).toBe(16n);
  });

  it('drops the committed records, and has nothing to commit until another is done', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const [r0, r1, r2] = takeOffsets(state, 0, 1, 2);
    state.complete(r0);
    state.complete(r1);
    state.committedUpTo(state.committable()!.next);
    expect(state.committed).toBe(2n);
    expect(state.held).toBe(1);
    expect(state.committable()).toBeUndefined();
    expect(state.firstUnfinished).toBe(r2);
    state.complete(r2);
    expect(state.committable()).toEqual({ records: [r2], next: 3n, finished: [] });
  });

  it('never moves the committed offset backwards', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    const taken = takeOffsets(state, 0, 1, 2, 3);
    for (const record of taken.slice(0, 3)) state.complete(record);
    state.committedUpTo(3n);
    // A late answer for an older commit changes nothing.
    state.committedUpTo(1n);
    expect(state.committed).toBe(3n);
    expect(state.held).toBe(1);
    expect(state.committable()).toBeUndefined();
    state.complete(taken[3]);
    expect(state.committable()).toEqual({ records: [taken[3]], next: 4n, finished: [] });
  });

  it('commits a batch of control records alone (no records, only a last offset)', () => {
    const state = new PartitionState('in', 0, 7n, 1);
    expect(state.take([], '8')).toEqual([]);
    expect(state.end).toBe(9n);
    expect(state.held).toBe(0);
    expect(state.committable()).toEqual({ records: [], next: 9n, finished: [] });
    state.committedUpTo(9n);
    expect(state.committable()).toBeUndefined();
  });

  it('keeps its order and counts over many commits (its array is compacted now and then)', () => {
    const state = new PartitionState('in', 0, 0n, 1);
    let committedRecords = 0;
    for (let from = 0; from < 5000; from += 500) {
      const taken = takeOffsets(state, ...Array.from({ length: 500 }, (_, i) => from + i));
      expect(taken).toHaveLength(500);
      // Everything but the last record of the batch is done: the commit stops right before it.
      for (const record of taken.slice(0, -1)) state.complete(record);
      const committable = state.committable()!;
      expect(committable.next).toBe(BigInt(from + 499));
      committedRecords += committable.records.length;
      state.committedUpTo(committable.next);
      expect(state.held).toBe(1);
      state.complete(taken[taken.length - 1]);
    }
    const last = state.committable()!;
    expect(offsetsOf(last.records)).toEqual([4999]);
    expect(last.next).toBe(5000n);
    expect(committedRecords + last.records.length).toBe(5000);
    state.committedUpTo(5000n);
    expect(state.held).toBe(0);
  });
});

describe('PartitionState, begun from an earlier owner’s metadata', () => {
  it('keeps naming the records the earlier owner finished that this member has not fetched yet', () => {
    const state = new PartitionState('t', 0, 10n, 1, new Set([11n, 13n]), encodeFinished(10n, [11n, 13n]));
    const [first] = state.take([message(10), message(11)], '11');
    state.complete(first);
    const committable = state.committable({ ahead: true })!;
    expect(committable.next).toBe(12n);
    expect(committable.finished).toEqual([13n]);
    expect(committable.records.map((r) => r.offset)).toEqual(['10']);
  });
});
