import fc from 'fast-check';
import { KeyScheduler } from './key-scheduler';

interface Item {
  lane: string;
  n: number;
}

/** A scheduler whose started records are recorded, with the lane each started on, and the most running at once. */
function scheduler(maxInFlight: number) {
  const started: Array<{ record: Item; lane: string }> = [];
  let running = 0;
  let maxRunning = 0;
  const keys = new KeyScheduler<Item>(maxInFlight, (record, lane) => {
    started.push({ record, lane });
    running++;
    maxRunning = Math.max(maxRunning, running);
  });
  const ended = (lane: string, how: 'finished' | 'failed' = 'finished') => {
    running--;
    keys[how](lane);
  };
  return { keys, started, ended, names: () => started.map((s) => `${s.record.lane}${s.record.n}`), maxRunning: () => maxRunning };
}

let counter = 0;
const item = (lane: string): Item => ({ lane, n: counter++ });

describe('KeyScheduler', () => {
  beforeEach(() => (counter = 0));

  it('runs the records of one lane one after another, in the order added, and lanes side by side', () => {
    const { keys, names, ended } = scheduler(10);
    keys.add('a', 'p0', item('a'));
    keys.add('a', 'p0', item('a'));
    keys.add('b', 'p0', item('b'));
    keys.add('a', 'p0', item('a'));
    expect(names()).toEqual(['a0', 'b2']);
    expect(keys.inFlight).toBe(2);
    expect(keys.waiting).toBe(2);
    ended('b');
    expect(names()).toEqual(['a0', 'b2']);
    ended('a');
    expect(names()).toEqual(['a0', 'b2', 'a1']);
    ended('a');
    expect(names()).toEqual(['a0', 'b2', 'a1', 'a3']);
    ended('a');
    expect(keys).toMatchObject({ inFlight: 0, waiting: 0, held: 0 });
  });

  it('runs as many records as maxInFlight allows and never more, oldest ready lane first', () => {
    const { keys, names, ended, maxRunning } = scheduler(3);
    for (const lane of ['a', 'b', 'c', 'd', 'e', 'f']) keys.add(lane, 'p0', item(lane));
    expect(names()).toEqual(['a0', 'b1', 'c2']);
    expect(keys).toMatchObject({ inFlight: 3, waiting: 3 });
    ended('b');
    expect(names()).toEqual(['a0', 'b1', 'c2', 'd3']);
    keys.add('g', 'p0', item('g'));
    expect(keys.inFlight).toBe(3);
    for (const lane of ['a', 'c', 'd', 'e', 'f']) ended(lane);
    expect(names()).toEqual(['a0', 'b1', 'c2', 'd3', 'e4', 'f5', 'g6']);
    expect(maxRunning()).toBe(3);
    ended('g');
    expect(keys).toMatchObject({ inFlight: 0, waiting: 0 });
  });

  it('keeps both promises under any order of adding, finishing, failing, retrying and dropping', () => {
    type Command =
      | { kind: 'add'; lane: number }
      | { kind: 'finish' | 'fail' | 'retry'; pick: number }
      | { kind: 'drop'; group: number };
    const command: fc.Arbitrary<Command> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const), lane: fc.nat(5) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), group: fc.nat(1) }) },
    );

    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(command, { maxLength: 120 }), (cap, commands) => {
        // The model: per lane, the records not finished (the first is the current one once started).
        const lanes = new Map<string, { group: string; queue: Item[]; running: boolean; held: boolean; retried: boolean }>();
        const finishedOrder = new Map<string, Item[]>();
        const kept: Item[] = [];
        const dropped = new Set<Item>();
        let running = 0;
        let maxRunning = 0;
        let n = 0;
        const laneOf = (id: string) => lanes.get(id)!;

        const keys = new KeyScheduler<Item>(cap, (record, id) => {
          const lane = laneOf(id);
          expect(record.lane).toBe(id);
          // Never two records of a lane at once, and always the oldest one left of the lane.
          expect(lane.running).toBe(false);
          expect(lane.held).toBe(false);
          expect(lane.queue[0]).toBe(record);
          lane.running = true;
          lane.retried = false;
          running++;
          maxRunning = Math.max(maxRunning, running);
          expect(running).toBeLessThanOrEqual(cap);
        });

        const pick = <T>(list: T[], at: number): T | undefined => (list.length === 0 ? undefined : list[at % list.length]);
        const ids = (predicate: (lane: { running: boolean; held: boolean }) => boolean) =>
          [...lanes.entries()].filter(([, lane]) => predicate(lane)).map(([id]) => id);

        const finish = (id: string) => {
          const lane = laneOf(id);
          lane.running = false;
          running--;
          const record = lane.queue.shift()!;
          finishedOrder.set(id, [...(finishedOrder.get(id) ?? []), record]);
          keys.finished(id);
        };

        const check = () => {
          let waiting = 0;
          // A retried record waiting for a free place counts as waiting; a running or held one does not.
          for (const lane of lanes.values()) waiting += lane.queue.length - (lane.running || lane.held ? 1 : 0);
          expect(keys.inFlight).toBe(running);
          expect(keys.held).toBe(ids((l) => l.held).length);
          expect(keys.waiting).toBe(waiting);
          // No place stays free while a lane could run.
          if (running < cap) {
            const runnable = [...lanes.values()].filter((l) => !l.running && !l.held && l.queue.length > 0);
            expect(runnable).toEqual([]);
          }
        };

        for (const c of commands) {
          switch (c.kind) {
            case 'add': {
              const id = `k${c.lane}`;
              const group = `p${c.lane % 2}`;
              if (!lanes.has(id)) lanes.set(id, { group, queue: [], running: false, held: false, retried: false });
              const record: Item = { lane: id, n: n++ };
              laneOf(id).queue.push(record);
              kept.push(record);
              keys.add(id, group, record);
              break;
            }
            case 'finish': {
              const id = pick(ids((l) => l.running), c.pick);
              if (id) finish(id);
              break;
            }
            case 'fail': {
              const id = pick(ids((l) => l.running), c.pick);
              if (!id) break;
              const lane = laneOf(id);
              lane.running = false;
              lane.held = true;
              running--;
              keys.failed(id);
              break;
            }
            case 'retry': {
              const id = pick(ids((l) => l.held), c.pick);
              if (!id) break;
              const lane = laneOf(id);
              lane.held = false;
              lane.retried = true;
              keys.retry(id, lane.queue[0]);
              break;
            }
            case 'drop': {
              const group = `p${c.group}`;
              let expected = 0;
              for (const lane of lanes.values()) {
                if (lane.group !== group) continue;
                // Only a running record outlives the drop (its lane stays until it ends).
                const keep = lane.running ? lane.queue.slice(0, 1) : [];
                for (const record of lane.queue.slice(keep.length)) dropped.add(record);
                expected += lane.queue.length - keep.length;
                lane.queue = keep;
                lane.held = false;
              }
              expect(keys.drop(group)).toBe(expected);
              break;
            }
          }
          check();
        }

        // Drain: retry what is held and finish what runs, until nothing is left.
        for (let guard = 0; running > 0 || ids((l) => l.held).length > 0; guard++) {
          expect(guard).toBeLessThan(10_000);
          for (const id of ids((l) => l.held)) {
            laneOf(id).held = false;
            laneOf(id).retried = true;
            keys.retry(id, laneOf(id).queue[0]);
          }
          const id = ids((l) => l.running)[0];
          if (id) finish(id);
          check();
        }
        expect(keys).toMatchObject({ inFlight: 0, waiting: 0, held: 0 });
        // Every record not dropped ran to its end, each lane's in the order added.
        for (const id of new Set(kept.map((r) => r.lane))) {
          expect(finishedOrder.get(id) ?? []).toEqual(kept.filter((r) => r.lane === id && !dropped.has(r)));
        }
        expect(maxRunning).toBeLessThanOrEqual(cap);
      }),
      { seed: 20251128, numRuns: 300 },
    );
  });

  it('frees the place of a failed record and holds its lane until the retry, which runs that record again', () => {
    const { keys, started, names, ended } = scheduler(1);
    const a0 = item('a');
    keys.add('a', 'p0', a0);
    keys.add('a', 'p0', item('a'));
    keys.add('b', 'p0', item('b'));
    expect(names()).toEqual(['a0']);
    ended('a', 'failed');
    expect(keys).toMatchObject({ inFlight: 1, held: 1, waiting: 1 });
    // The other lane goes on; the held lane's next record waits behind the failed one.
    expect(names()).toEqual(['a0', 'b2']);
    ended('b');
    expect(names()).toEqual(['a0', 'b2']);
    expect(keys.inFlight).toBe(0);
    keys.retry('a', a0);
    expect(started[2].record).toBe(a0);
    expect(keys).toMatchObject({ inFlight: 1, held: 0, waiting: 1 });
    ended('a');
    expect(names()).toEqual(['a0', 'b2', 'a0', 'a1']);
  });

  it('waits for a free place before running a retried record', () => {
    const { keys, names, ended } = scheduler(1);
    const a0 = item('a');
    keys.add('a', 'p0', a0);
    ended('a', 'failed');
    keys.add('b', 'p0', item('b'));
    keys.retry('a', a0);
    expect(names()).toEqual(['a0', 'b1']);
    ended('b');
    expect(names()).toEqual(['a0', 'b1', 'a0']);
  });

  it('ignores a retry with a record the lane does not hold, or for a lane that is not held', () => {
    const { keys, names, ended } = scheduler(5);
    const a0 = item('a');
    const a1 = item('a');
    keys.add('a', 'p0', a0);
    keys.add('a', 'p0', a1);
    keys.retry('a', a0); // running, not held
    expect(names()).toEqual(['a0']);
    ended('a', 'failed');
    keys.retry('a', a1); // not the held one
    keys.retry('b', a0); // no such lane
    expect(names()).toEqual(['a0']);
    expect(keys.held).toBe(1);
    keys.drop('p0');
    keys.retry('a', a0); // dropped since
    expect(names()).toEqual(['a0']);
    expect(keys).toMatchObject({ inFlight: 0, waiting: 0, held: 0 });
  });

  it('ignores the end of a lane that runs nothing', () => {
    const { keys, names } = scheduler(1);
    keys.add('a', 'p0', item('a'));
    keys.add('b', 'p0', item('b'));
    keys.finished('b');
    keys.failed('b');
    keys.finished('zz');
    expect(names()).toEqual(['a0']);
    expect(keys).toMatchObject({ inFlight: 1, waiting: 1, held: 0 });
  });

  it("drops a group's waiting and held records, and nothing of other groups", () => {
    const { keys, names, ended } = scheduler(2);
    const a0 = item('a');
    keys.add('a', 'p0', a0);
    keys.add('a', 'p0', item('a'));
    ended('a', 'failed'); // a0 held, a1 waiting
    keys.add('b', 'p0', item('b'));
    keys.add('c', 'p1', item('c'));
    keys.add('b', 'p0', item('b'));
    keys.add('c', 'p1', item('c'));
    expect(names()).toEqual(['a0', 'b2', 'c3']);
    expect(keys).toMatchObject({ inFlight: 2, waiting: 3, held: 1 });
    // a0 (held), a1 and b4 (waiting); b2 runs on.
    expect(keys.drop('p0')).toBe(3);
    expect(keys).toMatchObject({ inFlight: 2, waiting: 1, held: 0 });
    keys.retry('a', a0);
    ended('b');
    ended('c');
    expect(names()).toEqual(['a0', 'b2', 'c3', 'c5']);
    expect(keys.drop('p0')).toBe(0);
    expect(keys.drop('unknown')).toBe(0);
  });

  it('keeps the lane of a running record through a drop: the same key added again waits for it', () => {
    const { keys, names, ended } = scheduler(5);
    keys.add('a', 'p0', item('a'));
    keys.add('a', 'p0', item('a'));
    expect(keys.drop('p0')).toBe(1);
    // The next generation takes the partition up again: its record of the same key waits for the running one.
    keys.add('a', 'p0', item('a'));
    keys.add('b', 'p0', item('b'));
    expect(names()).toEqual(['a0', 'b3']);
    expect(keys.waiting).toBe(1);
    ended('a');
    expect(names()).toEqual(['a0', 'b3', 'a2']);
    ended('a');
    ended('b');
    expect(keys).toMatchObject({ inFlight: 0, waiting: 0 });
    // The lane is gone once empty: a new record starts at once.
    keys.add('a', 'p0', item('a'));
    expect(names()).toEqual(['a0', 'b3', 'a2', 'a4']);
  });

  it('starts nothing once stopped, while the records running may end', () => {
    const { keys, names, ended } = scheduler(1);
    keys.add('a', 'p0', item('a'));
    keys.add('b', 'p0', item('b'));
    keys.stop();
    keys.add('c', 'p0', item('c'));
    ended('a');
    expect(names()).toEqual(['a0']);
    expect(keys).toMatchObject({ inFlight: 0, waiting: 2 });
  });

  it('starts no retried record once stopped', () => {
    const { keys, names, ended } = scheduler(1);
    const a0 = item('a');
    keys.add('a', 'p0', a0);
    ended('a', 'failed');
    keys.stop();
    keys.retry('a', a0);
    expect(names()).toEqual(['a0']);
    expect(keys.inFlight).toBe(0);
  });

  describe('a retried record still waiting for a free place', () => {
    /** Lane a's record failed and was retried while lane b holds the only place. */
    function retriedWhileFull() {
      const s = scheduler(1);
      const a0 = item('a');
      s.keys.add('a', 'p0', a0);
      s.ended('a', 'failed');
      s.keys.add('b', 'p1', item('b'));
      s.keys.retry('a', a0);
      expect(s.names()).toEqual(['a0', 'b1']);
      return s;
    }

    it('is dropped with its group (it is neither running nor held)', () => {
      const { keys, names, ended } = retriedWhileFull();
      expect(keys.drop('p0')).toBe(1);
      ended('b');
      expect(names()).toEqual(['a0', 'b1']);
    });

    it('counts as waiting', () => {
      const { keys } = retriedWhileFull();
      expect(keys).toMatchObject({ inFlight: 1, held: 0, waiting: 1 });
    });
  });
});
