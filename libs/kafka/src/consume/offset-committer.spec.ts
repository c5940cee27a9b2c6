import type { TopicPartitionOffset } from 'kafkajs';
import { OffsetCommitter } from './offset-committer';

function recorder() {
  const commits: TopicPartitionOffset[][] = [];
  const commit = async (offsets: TopicPartitionOffset[]) => {
    commits.push(offsets);
  };
  return { commits, commit };
}

/** A commit whose first call hangs until the test fails it; the later calls succeed and are recorded. */
function firstCommitFailsLater() {
  const commits: TopicPartitionOffset[][] = [];
  let reject: (error: Error) => void = () => undefined;
  let calls = 0;
  const commit = (offsets: TopicPartitionOffset[]) => {
    calls += 1;
    if (calls === 1) return new Promise<void>((_, fail) => (reject = fail));
    commits.push(offsets);
    return Promise.resolve();
  };
  const started = async () => {
    while (calls === 0) await new Promise((resolve) => setImmediate(resolve));
  };
  return { commits, commit, started, fail: (error: Error) => reject(error) };
}

describe('OffsetCommitter', () => {
  it('commits the latest handled offset of each partition once, and nothing when nothing is new', async () => {
    const { commits, commit } = recorder();
    const committer = new OffsetCommitter(commit, 60_000);
    committer.processed('orders', 0, '5');
    committer.processed('orders', 0, '9');
    committer.processed('orders', 1, '3');
    await committer.flush();
    await committer.flush();
    expect(commits).toEqual([
      [
        { topic: 'orders', partition: 0, offset: '9' },
        { topic: 'orders', partition: 1, offset: '3' },
      ],
    ]);
  });

  it('keeps a failed commit pending, unless a newer offset of that partition came meanwhile', async () => {
    const { commits, commit, started, fail } = firstCommitFailsLater();
    const errors: unknown[] = [];
    const committer = new OffsetCommitter(commit, 60_000, (error) => errors.push(error));
    committer.processed('orders', 0, '5');
    committer.processed('orders', 1, '7');
    const failing = committer.flush();
    await started();
    committer.processed('orders', 1, '8'); // handled while the commit was on its way
    fail(new Error('REBALANCE_IN_PROGRESS'));
    await failing;
    await committer.flush();
    expect(errors).toHaveLength(1);
    expect(commits).toEqual([
      [
        { topic: 'orders', partition: 1, offset: '8' },
        { topic: 'orders', partition: 0, offset: '5' },
      ],
    ]);
  });

  it('does not bring back the offsets of a commit that failed across a rebalance', async () => {
    const { commits, commit, started, fail } = firstCommitFailsLater();
    const committer = new OffsetCommitter(commit, 60_000);
    committer.processed('orders', 0, '5');
    const failing = committer.flush();
    await started();
    committer.newGeneration(); // the member rejoined: partition 0 may have moved on under another member
    fail(new Error('REBALANCE_IN_PROGRESS'));
    await failing;
    committer.processed('orders', 1, '9');
    await committer.flush();
    expect(commits).toEqual([[{ topic: 'orders', partition: 1, offset: '9' }]]);
  });

  it('drops what was pending when the member rejoins or crashes, and what a batch of the old generation reports late', async () => {
    const { commits, commit } = recorder();
    const committer = new OffsetCommitter(commit, 60_000);
    const before = committer.generation;
    committer.processed('orders', 0, '5', before);
    committer.newGeneration();
    committer.processed('orders', 0, '7', before); // a batch that began before the rejoin, finishing after it
    committer.processed('orders', 2, '6', committer.generation);
    await committer.flush();
    expect(commits).toEqual([[{ topic: 'orders', partition: 2, offset: '6' }]]);
  });

  it('commits on its interval once started, and not after it is stopped', async () => {
    jest.useFakeTimers();
    try {
      const { commits, commit } = recorder();
      const committer = new OffsetCommitter(commit, 200);
      committer.start();
      committer.processed('orders', 0, '1');
      await jest.advanceTimersByTimeAsync(200);
      expect(commits).toHaveLength(1);
      committer.stop();
      committer.processed('orders', 0, '2');
      await jest.advanceTimersByTimeAsync(1000);
      expect(commits).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
