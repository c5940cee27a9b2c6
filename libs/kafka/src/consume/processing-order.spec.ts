import { setTimeout as sleep } from 'node:timers/promises';
import { dispatchInLanes, firstFailure } from './processing-order';

interface Rec {
  key: string;
  offset: number;
  ms: number;
  fail?: boolean;
}

/** Handles records with their delay, logging start and end, so order and overlap can be read. */
function tracer() {
  const log: string[] = [];
  const handle = async (record: Rec) => {
    log.push(`start ${record.offset}`);
    await sleep(record.ms);
    if (record.fail) throw new Error(`record ${record.offset} failed`);
    log.push(`end ${record.offset}`);
  };
  return { log, handle };
}

describe('dispatchInLanes', () => {
  it('overlaps records of different keys and keeps records of one key in offset order', async () => {
    const { log, handle } = tracer();
    const records: Rec[] = [
      { key: 'a', offset: 0, ms: 30 },
      { key: 'b', offset: 1, ms: 5 },
      { key: 'a', offset: 2, ms: 1 },
    ];
    const outcomes = await dispatchInLanes(records, (r) => r.key, handle);
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    // b overtakes a's first record; a's second starts only after a's first ended.
    expect(log).toEqual(['start 0', 'start 1', 'end 1', 'end 0', 'start 2', 'end 2']);
  });

  it('runs everything one at a time when all records share a lane', async () => {
    const { log, handle } = tracer();
    const records: Rec[] = [
      { key: 'a', offset: 0, ms: 10 },
      { key: 'b', offset: 1, ms: 1 },
    ];
    await dispatchInLanes(records, () => '', handle);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1']);
  });

  it('does not run the later records of a failed key, and reports the first failure in offset order', async () => {
    const { log, handle } = tracer();
    const records: Rec[] = [
      { key: 'a', offset: 0, ms: 1 },
      { key: 'b', offset: 1, ms: 5, fail: true },
      { key: 'c', offset: 2, ms: 1 },
      { key: 'b', offset: 3, ms: 1 },
    ];
    const outcomes = await dispatchInLanes(records, (r) => r.key, handle);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect(log).not.toContain('start 3');
    const { succeeded, error } = firstFailure(outcomes);
    expect(succeeded).toBe(1);
    expect((error as Error).message).toBe('record 1 failed');
  });

  it('reports no failure when every record succeeded', async () => {
    const outcomes = await dispatchInLanes([1, 2], String, async () => undefined);
    expect(firstFailure(outcomes)).toEqual({ succeeded: 2 });
  });
});
