import { AsyncLocalStorage } from 'node:async_hooks';
import { Coalescer } from './coalescer';

class BadItem extends Error {}

/** A run that records the batches it was given and doubles each item; item 13 is bad. */
function recordingRun() {
  const runs: number[][] = [];
  const run = async (items: number[]) => {
    runs.push(items);
    if (items.includes(13)) throw new BadItem('13 is bad');
    return items.map((item) => item * 2);
  };
  return { runs, run };
}

describe('Coalescer', () => {
  it('runs items submitted in the same turn together, each caller getting its own result', async () => {
    const { runs, run } = recordingRun();
    const coalescer = new Coalescer(run, { maxBatch: 100 });
    const results = await Promise.all([1, 2, 3].map((item) => coalescer.submit(item)));
    expect(results).toEqual([2, 4, 6]);
    expect(runs).toEqual([[1, 2, 3]]);
  });

  it('gathers what arrives during a run into the next one, in order and within maxBatch', async () => {
    const runs: number[][] = [];
    let release: () => void = () => undefined;
    const coalescer = new Coalescer(
      async (items: number[]) => {
        runs.push(items);
        if (runs.length === 1) await new Promise<void>((resolve) => (release = resolve)); // the first run is slow
        return items.map((item) => item * 2);
      },
      { maxBatch: 2 },
    );
    const first = coalescer.submit(1);
    while (runs.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const later = [2, 3, 4].map((item) => coalescer.submit(item)); // while run [1] is in flight
    release();
    expect(await Promise.all([first, ...later])).toEqual([2, 4, 6, 8]);
    expect(runs).toEqual([[1], [2, 3], [4]]);
  });

  it('fails every caller of a run that fails for a reason it does not isolate', async () => {
    const { run } = recordingRun();
    const coalescer = new Coalescer(run, { maxBatch: 100, isolate: () => false });
    const outcomes = await Promise.allSettled([12, 13].map((item) => coalescer.submit(item)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
  });

  it('reruns a failed batch item by item when told to, so only the bad item fails', async () => {
    const { runs, run } = recordingRun();
    const coalescer = new Coalescer(run, { maxBatch: 100, isolate: (error) => error instanceof BadItem });
    const outcomes = await Promise.allSettled([12, 13, 14].map((item) => coalescer.submit(item)));
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 24 },
      { status: 'rejected', reason: expect.any(BadItem) },
      { status: 'fulfilled', value: 28 },
    ]);
    expect(runs).toEqual([[12, 13, 14], [12], [13], [14]]);
  });

  it('rejects every caller when a run returns the wrong number of results', async () => {
    const coalescer = new Coalescer(async () => [1], { maxBatch: 100 });
    await expect(Promise.all([coalescer.submit('a'), coalescer.submit('b')])).rejects.toThrow('a run of 2 items returned 1 results');
  });

  it("runs outside the first caller's async context, which it would otherwise see and keep alive", async () => {
    const storage = new AsyncLocalStorage<string>();
    const seen: Array<string | undefined> = [];
    const coalescer = new Coalescer(async (items: string[]) => {
      seen.push(storage.getStore());
      return items;
    }, { maxBatch: 100 });
    await Promise.all(['first', 'second'].map((record) => storage.run(record, () => coalescer.submit(record))));
    expect(seen).toEqual([undefined]);
  });
});
