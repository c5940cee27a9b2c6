import { PartitionProgress } from './partition-progress';

describe('PartitionProgress', () => {
  it('moves only over the leading records that are done, whatever order they finish in', () => {
    const progress = new PartitionProgress(['10', '11', '12', '13'], '13');
    progress.markDone(1);
    progress.markDone(3);
    expect(progress.advance()).toBeUndefined();
    expect(progress.firstUnfinished).toBe('10');

    progress.markDone(0);
    expect(progress.advance()).toEqual({ handled: '11', next: '12' });
    expect(progress.advance()).toBeUndefined();
    expect(progress.firstUnfinished).toBe('12');
    expect(progress.complete).toBe(false);

    progress.markDone(2);
    expect(progress.advance()).toEqual({ handled: '13', next: '14' });
    expect(progress.complete).toBe(true);
    expect(progress.firstUnfinished).toBeUndefined();
  });

  it('moves past a trailing control record once every record is done', () => {
    const progress = new PartitionProgress(['5', '6'], '7');
    progress.markDone(0);
    expect(progress.advance()).toEqual({ handled: '5', next: '6' });
    progress.markDone(1);
    expect(progress.advance()).toEqual({ handled: '7', next: '8' });
  });

  it('keeps offsets beyond 2^53 exact', () => {
    const progress = new PartitionProgress(['9007199254740993'], '9007199254740993');
    progress.markDone(0);
    expect(progress.advance()).toEqual({ handled: '9007199254740993', next: '9007199254740994' });
  });
});
