import type { KafkaMessage } from 'kafkajs';
import { Intake, type FetchedBatch, type IntakeControl } from './intake';
import type { PartitionState } from './partition-state';

/** A consumer stand-in that records what the intake asked of it. */
function fakeControl() {
  const calls: string[] = [];
  const control: IntakeControl = {
    pause: (topic, partition) => void calls.push(`pause ${topic}[${partition}]`),
    resume: (topic, partition) => void calls.push(`resume ${topic}[${partition}]`),
    seek: (topic, partition, offset) => void calls.push(`seek ${topic}[${partition}] ${offset}`),
  };
  return { control, calls };
}

const message = (offset: number): KafkaMessage => ({ key: null, value: null, timestamp: '0', attributes: 0, offset: String(offset), headers: {} });

function fetched(state: PartitionState, fetchedOffset: number, offsets: number[], lastOffset = offsets[offsets.length - 1]): FetchedBatch {
  return { topic: state.topic, partition: state.partition, fetchedOffset: String(fetchedOffset), messages: offsets.map(message), lastOffset: String(lastOffset) };
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/** Completes and commits the first `count` records `state` holds. */
function commitFirst(state: PartitionState, count: number): void {
  for (let done = 0; done < count; done++) state.complete(state.firstUnfinished!);
  state.committedUpTo(state.committable()!.next);
}

describe('Intake', () => {
  const limits = { highWater: 4, lowWater: 2 };

  it('begins a partition at the offset the group holds, and finds, lists and forgets it', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const state = intake.begin('in', 1, 42n, 3);
    expect(state).toMatchObject({ topic: 'in', partition: 1, end: 42n, committed: 42n, generation: 3, held: 0 });
    expect(intake.get('in', 1)).toBe(state);
    expect(intake.get('in', 2)).toBeUndefined();
    expect(intake.get('other', 1)).toBeUndefined();
    const other = intake.begin('in', 2, 0n, 3);
    expect(intake.all()).toEqual([state, other]);

    expect(intake.remove('in', 1)).toBe(state);
    expect(intake.get('in', 1)).toBeUndefined();
    expect(intake.all()).toEqual([other]);
    expect(intake.remove('in', 1)).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('begins a partition it holds afresh, in place of its earlier state', () => {
    const { control } = fakeControl();
    const intake = new Intake(control, limits);
    const first = intake.begin('in', 0, 5n, 1);
    const state = intake.begin('in', 0, 9n, 2);
    expect(state).not.toBe(first);
    expect(state).toMatchObject({ end: 9n, generation: 2 });
    expect(intake.get('in', 0)).toBe(state);
  });

  it('takes the new records of a batch, and those a refetch brings again only once', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const state = intake.begin('in', 0, 10n, 1);
    expect(intake.take(state, fetched(state, 10, [10, 11]))?.map((r) => r.offset)).toEqual(['10', '11']);
    // kafkajs fetches again from the committed offset after a rejoin.
    expect(intake.take(state, fetched(state, 10, [10, 11, 12]))?.map((r) => r.offset)).toEqual(['12']);
    expect(state.end).toBe(13n);
    expect(calls).toEqual([]);
  });

  it('takes nothing from a batch that begins past its end, and fetches the partition again from the end', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const state = intake.begin('in', 3, 10n, 1);
    expect(intake.take(state, fetched(state, 12, [12, 13]))).toBeUndefined();
    expect(calls).toEqual(['seek in[3] 10']);
    expect(state).toMatchObject({ end: 10n, held: 0 });
    // From the end, the records are taken.
    expect(intake.take(state, fetched(state, 10, [10, 11, 12, 13]))?.map((r) => r.offset)).toEqual(['10', '11', '12', '13']);
    expect(calls).toEqual(['seek in[3] 10']);
  });

  it('pauses a partition once it holds more than the high-water mark, and only once', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const state = intake.begin('in', 0, 0n, 1);
    intake.take(state, fetched(state, 0, range(0, 4)));
    expect(state.held).toBe(4);
    expect(calls).toEqual([]);
    expect(intake.paused).toBe(0);
    intake.take(state, fetched(state, 4, [4]));
    expect(calls).toEqual(['pause in[0]']);
    expect(intake.paused).toBe(1);
    // A fetch under way still delivers: the partition is not paused again.
    intake.take(state, fetched(state, 5, [5, 6]));
    intake.balance(state);
    expect(calls).toEqual(['pause in[0]']);
    expect(intake.paused).toBe(1);
  });

  it('resumes a paused partition only once it holds fewer than the low-water mark', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const state = intake.begin('in', 0, 0n, 1);
    intake.take(state, fetched(state, 0, range(0, 6)));
    expect(calls).toEqual(['pause in[0]']);

    commitFirst(state, 2);
    intake.balance(state);
    expect(state.held).toBe(4);
    commitFirst(state, 2);
    intake.balance(state);
    expect(state.held).toBe(2); // at the low-water mark: still paused
    expect(calls).toEqual(['pause in[0]']);
    expect(intake.paused).toBe(1);

    commitFirst(state, 1);
    intake.balance(state);
    expect(state.held).toBe(1);
    expect(calls).toEqual(['pause in[0]', 'resume in[0]']);
    expect(intake.paused).toBe(0);
    intake.balance(state);
    commitFirst(state, 1);
    intake.balance(state);
    expect(calls).toEqual(['pause in[0]', 'resume in[0]']);
  });

  it('never resumes a partition it did not pause', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const state = intake.begin('in', 0, 0n, 1);
    intake.take(state, fetched(state, 0, [0]));
    commitFirst(state, 1);
    intake.balance(state);
    expect(intake.remove('in', 0)).toBe(state);
    intake.resetPressure();
    expect(calls).toEqual([]);
  });

  it('leaves alone a state that is no longer the partition’s', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const old = intake.begin('in', 0, 0n, 1);
    intake.begin('in', 0, 0n, 2);
    intake.take(old, fetched(old, 0, range(0, 8)));
    expect(old.held).toBe(8);
    expect(calls).toEqual([]);
    expect(intake.paused).toBe(0);
  });

  it('resumes a partition paused by pressure when it is forgotten', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const state = intake.begin('in', 0, 0n, 1);
    intake.begin('in', 1, 0n, 1);
    intake.take(state, fetched(state, 0, range(0, 5)));
    expect(intake.remove('in', 1)).toBeDefined();
    expect(calls).toEqual(['pause in[0]']);
    expect(intake.remove('in', 0)).toBe(state);
    expect(calls).toEqual(['pause in[0]', 'resume in[0]']);
    expect(intake.paused).toBe(0);
  });

  it('resumes every partition paused by pressure at a new assignment, and starts counting again', () => {
    const { control, calls } = fakeControl();
    const intake = new Intake(control, limits);
    const a = intake.begin('in', 0, 0n, 1);
    const b = intake.begin('in', 1, 0n, 1);
    const c = intake.begin('other', 0, 0n, 1);
    intake.take(a, fetched(a, 0, range(0, 5)));
    intake.take(b, fetched(b, 0, range(0, 5)));
    intake.take(c, fetched(c, 0, range(0, 1)));
    expect(calls).toEqual(['pause in[0]', 'pause in[1]']);
    expect(intake.paused).toBe(2);

    intake.resetPressure();
    expect(calls.slice(2).sort()).toEqual(['resume in[0]', 'resume in[1]']);
    expect(intake.paused).toBe(0);
    intake.resetPressure();
    expect(calls).toHaveLength(4);
    // Still holding too much, a partition is paused again at its next balance.
    intake.balance(a);
    expect(calls.slice(4)).toEqual(['pause in[0]']);
  });
});
