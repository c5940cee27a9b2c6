import { KeepAlive } from './keep-alive';

describe('KeepAlive', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('heartbeats on its interval after moving the offsets, until stopped', async () => {
    const calls: string[] = [];
    const keepAlive = new KeepAlive(async () => void calls.push('heartbeat'), 1000, () => void calls.push('advance')).start();
    await jest.advanceTimersByTimeAsync(2500);
    expect(calls).toEqual(['advance', 'heartbeat', 'advance', 'heartbeat']);
    keepAlive.stop();
    await jest.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(4);
    expect(keepAlive.lost).toBe(false);
  });

  it('is lost once a heartbeat fails (a rebalance has begun)', async () => {
    const rebalancing = new Error('The group is rebalancing');
    const keepAlive = new KeepAlive(() => Promise.reject(rebalancing), 1000).start();
    expect(keepAlive.lost).toBe(false);
    await jest.advanceTimersByTimeAsync(1000);
    expect(keepAlive.lost).toBe(true);
    expect(keepAlive.reason).toBe(rebalancing);
    keepAlive.stop();
  });

  it('is lost when moving the offsets is refused (the partition is no longer ours)', async () => {
    const heartbeat = jest.fn(async () => undefined);
    const keepAlive = new KeepAlive(heartbeat, 1000, () => {
      throw new Error('not assigned');
    }).start();
    await jest.advanceTimersByTimeAsync(1000);
    expect(keepAlive.lost).toBe(true);
    expect(heartbeat).not.toHaveBeenCalled();
    keepAlive.stop();
  });
});
