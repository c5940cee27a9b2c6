import { CommitQueue, type CommitOutcome } from './commit-queue';

/** A transaction the test ends by hand. */
function pending() {
  let end: (error?: Error) => void = () => undefined;
  const promise = new Promise<void>((resolve, reject) => (end = (error) => (error ? reject(error) : resolve())));
  return { promise, end };
}

function recorder(name: string, heard: string[]): CommitOutcome {
  return { committed: () => heard.push(`${name} committed`), failed: (error) => heard.push(`${name} failed: ${(error as Error).message}`) };
}

describe('CommitQueue', () => {
  it('lets the next transaction of a partition go only once the one before it has committed', async () => {
    const queue = new CommitQueue();
    const heard: string[] = [];
    expect(await queue.previousCommitted('in-0')).toBe(true);
    const first = pending();
    queue.queue('in-0', '10', first.promise, recorder('first', heard));
    let next: boolean | undefined;
    const waiting = queue.previousCommitted('in-0').then((ok) => (next = ok));
    await new Promise((resolve) => setImmediate(resolve));
    expect(next).toBeUndefined();
    first.end();
    await waiting;
    expect(next).toBe(true);
    expect(heard).toEqual(['first committed']);
  });

  it('after a failed transaction lets nothing more of that partition go, until restarted at its first record', async () => {
    const queue = new CommitQueue();
    const heard: string[] = [];
    const failed = pending();
    queue.queue('in-0', '10', failed.promise, recorder('slice 10-19', heard));
    const other = pending();
    queue.queue('in-1', '5', other.promise, recorder('in-1', heard));
    failed.end(new Error('fenced'));
    expect(await queue.previousCommitted('in-0')).toBe(false);
    expect(await queue.previousCommitted('in-0')).toBe(false);
    other.end();
    expect(await queue.previousCommitted('in-1')).toBe(true);
    expect(heard).toEqual(['slice 10-19 failed: fenced', 'in-1 committed']);
    await queue.ended('in-0');
    expect(queue.restart('in-0')).toBe(10n);
    expect(await queue.previousCommitted('in-0')).toBe(true);
    expect(queue.restart('in-0')).toBeUndefined();
    expect(queue.restart('in-1')).toBeUndefined();
  });

  it('rewinds to the earliest first record of the transactions that failed since the last restart', async () => {
    const queue = new CommitQueue();
    queue.queue('in-0', '30', Promise.reject(new Error('lost')), recorder('a', []));
    await queue.ended('in-0');
    queue.queue('in-0', '20', Promise.reject(new Error('lost')), recorder('b', []));
    await queue.ended('in-0');
    queue.queue('in-0', '40', Promise.reject(new Error('lost')), recorder('c', []));
    await queue.ended('in-0');
    expect(queue.restart('in-0')).toBe(20n);
  });

  it('tells a transaction\'s end before the next transaction of its partition may go', async () => {
    const queue = new CommitQueue();
    const heard: string[] = [];
    queue.queue('in-0', '1', Promise.reject(new Error('refused')), recorder('first', heard));
    const ok = await queue.previousCommitted('in-0');
    heard.push(`next may go: ${ok}`);
    expect(heard).toEqual(['first failed: refused', 'next may go: false']);
  });
});
