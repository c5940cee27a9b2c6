import { RecordRetries } from './record-retries';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('RecordRetries', () => {
  const options = { initialMs: 100, maxMs: 10_000, boundMs: 60_000 };

  it('backs off exponentially per attempt at the same record, up to the maximum', () => {
    const time = clock();
    const retries = new RecordRetries(options, time.now, () => 1);
    const delays = Array.from({ length: 10 }, () => retries.failed('t', 0, '5', new Error('down')));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    expect(retries.stalled()).toEqual([
      expect.objectContaining({ topic: 't', partition: 0, offset: '5', attempts: 10, lastError: 'Error: down', since: 1_000_000 }),
    ]);
  });

  it('adds jitter of up to half the delay', () => {
    const low = new RecordRetries(options, clock().now, () => 0);
    expect(low.failed('t', 0, '5', 'x')).toBe(50);
    const mid = new RecordRetries(options, clock().now, () => 0.5);
    expect(mid.failed('t', 0, '5', 'x')).toBe(75);
  });

  it('ends the last wait at the bound, counted from the first failure', () => {
    const time = clock();
    const retries = new RecordRetries(options, time.now, () => 1);
    retries.failed('t', 0, '5', 'x');
    time.advance(59_950);
    expect(retries.failed('t', 0, '5', 'x')).toBe(50);
    time.advance(50);
    // Past the bound the record is parked by the handler's side; a failure that is not, keeps backing off.
    expect(retries.failed('t', 0, '5', 'x')).toBe(400);
    expect(retries.failingSince('t', 0, '5')).toBe(1_000_000);
  });

  it('counts each record apart, and keeps partitions apart', () => {
    const time = clock();
    const retries = new RecordRetries(options, time.now, () => 1);
    retries.failed('t', 0, '5', 'x');
    retries.failed('t', 0, '5', 'x');
    retries.failed('t', 1, '5', 'x');
    time.advance(1000);
    expect(retries.failed('t', 0, '9', 'x')).toBe(100);
    expect(retries.failingSince('t', 0, '9')).toBe(1_001_000);
    expect(retries.failingSince('t', 0, '5')).toBe(1_000_000);
    expect(retries.failingSince('t', 1, '5')).toBe(1_000_000);
  });

  it('ends a stall once its record is handled, and only that one', () => {
    const retries = new RecordRetries(options, clock().now, () => 1);
    retries.failed('t', 0, '5', 'x');
    retries.failed('t', 0, '7', 'x');
    expect(retries.ended('t', 0, '6')).toBeUndefined();
    expect(retries.stalled()).toEqual([expect.objectContaining({ offset: '5', records: 2 })]);
    expect(retries.ended('t', 0, '5')).toMatchObject({ offset: '5', attempts: 1 });
    expect(retries.stalled()).toEqual([expect.objectContaining({ offset: '7', records: 1 })]);
  });

  it('forgets the partitions a rebalance took away', () => {
    const retries = new RecordRetries(options, clock().now, () => 1);
    retries.failed('t', 0, '5', 'x');
    retries.failed('t', 1, '5', 'x');
    retries.retain({ t: [1] });
    expect(retries.stalled().map((s) => s.partition)).toEqual([1]);
  });
});
