import type { Admin } from 'kafkajs';
import { encodeFinished } from './offset-metadata';
import { PartitionOwnership, type PartitionControl } from './partition-ownership';
import type { PartitionTransactions } from './partition-transactions';

function fakeControl() {
  const calls: string[] = [];
  const control: PartitionControl = {
    pause: (topic, partition) => void calls.push(`pause ${topic}[${partition}]`),
    resume: (topic, partition) => void calls.push(`resume ${topic}[${partition}]`),
  };
  return { control, calls };
}

function clock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms = 1) => (now += ms) };
}

/**
 * Exactly once: a PartitionTransactions stand-in and an admin whose group holds `offsets` (topic -> partition ->
 * offset, or offset and metadata; kafkajs gives null for a commit without metadata).
 */
function exactlyOnce(
  offsets: Record<string, Record<number, string | { offset: string; metadata: string | null }>> = {},
  options: { failConnects?: number } = {},
) {
  const log: string[] = [];
  let failConnects = options.failConnects ?? 0;
  const transactions = {
    claim: jest.fn(async (topic: string, partition: number) => void log.push(`claim ${topic}[${partition}]`)),
    guard: <T>(work: Promise<T>) => work,
    renew: jest.fn(async (assignment: Record<string, number[]>): Promise<void> => {
      log.push(`renew ${JSON.stringify(assignment)}`);
    }),
  };
  const admin = {
    connect: jest.fn(async () => {
      log.push('connect');
      if (failConnects-- > 0) throw new Error('broker away');
    }),
    disconnect: jest.fn(async () => void log.push('disconnect')),
    fetchOffsets: jest.fn(async ({ groupId, topics }: { groupId: string; topics: string[] }) => {
      log.push(`fetchOffsets ${groupId} ${topics.join(',')}`);
      return topics.map((topic) => ({
        topic,
        partitions: Object.entries(offsets[topic] ?? {}).map(([partition, held]) => ({
          partition: Number(partition),
          ...(typeof held === 'string' ? { offset: held, metadata: null } : held),
        })),
      }));
    }),
  };
  const makeAdmin = jest.fn(() => admin as unknown as Admin);
  return {
    settings: { transactions: transactions as unknown as PartitionTransactions, admin: makeAdmin, groupId: 'order-group' },
    transactions,
    admin,
    makeAdmin,
    log,
  };
}

describe('PartitionOwnership', () => {
  it('counts a generation at every join and every crash', async () => {
    const ownership = new PartitionOwnership(fakeControl().control);
    expect(ownership.generation).toBe(0);
    await ownership.joined({ in: [0] });
    expect(ownership.generation).toBe(1);
    ownership.crashed();
    expect(ownership.generation).toBe(2);
    await ownership.joined({ in: [0] });
    expect(ownership.generation).toBe(3);
  });

  it('pauses a fenced partition and leaves the others be', () => {
    const { control, calls } = fakeControl();
    const ownership = new PartitionOwnership(control);
    ownership.fence('in', 1);
    expect(calls).toEqual(['pause in[1]']);
    expect(ownership.isFenced('in', 1)).toBe(true);
    expect(ownership.isFenced('in', 0)).toBe(false);
    expect(ownership.isFenced('other', 1)).toBe(false);
  });

  it('resumes a fenced partition at the second heartbeat after the fencing, not the first', () => {
    const { control, calls } = fakeControl();
    const time = clock();
    const ownership = new PartitionOwnership(control, undefined, time.now);
    ownership.fence('in', 1);
    time.advance();
    expect(ownership.heartbeat()).toEqual([]);
    expect(ownership.isFenced('in', 1)).toBe(true);
    expect(calls).toEqual(['pause in[1]']);
    time.advance();
    expect(ownership.heartbeat()).toEqual([{ topic: 'in', partition: 1 }]);
    expect(ownership.isFenced('in', 1)).toBe(false);
    expect(calls).toEqual(['pause in[1]', 'resume in[1]']);
    time.advance();
    expect(ownership.heartbeat()).toEqual([]);
    expect(calls).toEqual(['pause in[1]', 'resume in[1]']);
  });

  it('does not count a heartbeat at the very moment of the fencing (it may have been sent before it)', () => {
    const { control, calls } = fakeControl();
    const time = clock();
    const ownership = new PartitionOwnership(control, undefined, time.now);
    ownership.fence('in', 0);
    expect(ownership.heartbeat()).toEqual([]);
    expect(ownership.heartbeat()).toEqual([]);
    expect(ownership.heartbeat()).toEqual([]);
    expect(ownership.isFenced('in', 0)).toBe(true);
    time.advance();
    expect(ownership.heartbeat()).toEqual([]);
    expect(ownership.heartbeat()).toEqual([{ topic: 'in', partition: 0 }]);
    expect(calls).toEqual(['pause in[0]', 'resume in[0]']);
  });

  it('counts the heartbeats of each fenced partition from its own fencing', () => {
    const { control } = fakeControl();
    const time = clock();
    const ownership = new PartitionOwnership(control, undefined, time.now);
    ownership.fence('in', 0);
    time.advance();
    expect(ownership.heartbeat()).toEqual([]);
    ownership.fence('in', 1);
    time.advance();
    expect(ownership.heartbeat()).toEqual([{ topic: 'in', partition: 0 }]);
    time.advance();
    expect(ownership.heartbeat()).toEqual([{ topic: 'in', partition: 1 }]);
  });

  it('starts counting again when a partition is fenced again', () => {
    const { control } = fakeControl();
    const time = clock();
    const ownership = new PartitionOwnership(control, undefined, time.now);
    ownership.fence('in', 0);
    time.advance();
    ownership.heartbeat();
    ownership.fence('in', 0);
    time.advance();
    expect(ownership.heartbeat()).toEqual([]);
    time.advance();
    expect(ownership.heartbeat()).toEqual([{ topic: 'in', partition: 0 }]);
  });

  it('resumes every fenced partition at a new assignment', async () => {
    const { control, calls } = fakeControl();
    const ownership = new PartitionOwnership(control, undefined, clock().now);
    ownership.fence('in', 0);
    ownership.fence('other-topic', 3);
    await ownership.joined({ in: [0, 1] });
    expect(calls.slice(2).sort()).toEqual(['resume in[0]', 'resume other-topic[3]']);
    expect(ownership.isFenced('in', 0)).toBe(false);
    expect(ownership.isFenced('other-topic', 3)).toBe(false);
    // Nothing is left to resume at a heartbeat.
    expect(ownership.heartbeat()).toEqual([]);
  });

  it('exactly once, claims the whole assignment anew at a join, and the join ends when the claims do', async () => {
    const eo = exactlyOnce();
    let claimed!: () => void;
    eo.transactions.renew.mockImplementationOnce(() => new Promise<void>((resolve) => (claimed = resolve)));
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    let joined = false;
    const joining = ownership.joined({ in: [0, 2] }).then(() => (joined = true));
    expect(eo.transactions.renew).toHaveBeenCalledWith({ in: [0, 2] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(joined).toBe(false);
    claimed();
    await joining;
    expect(joined).toBe(true);
  });

  it('at least once, takes the offset kafkajs fetched from as the group’s', async () => {
    const ownership = new PartitionOwnership(fakeControl().control);
    await expect(ownership.groupOffset('in', 0, '42')).resolves.toEqual({ offset: 42n, metadata: '' });
  });

  it('exactly once, claims the partition first, then reads the offset the group holds now', async () => {
    const eo = exactlyOnce({ in: { 0: '57', 1: '3' } });
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await expect(ownership.groupOffset('in', 0, '42')).resolves.toEqual({ offset: 57n, metadata: '' });
    expect(eo.log).toEqual(['claim in[0]', 'connect', 'fetchOffsets order-group in']);
    await expect(ownership.groupOffset('in', 1, '0')).resolves.toEqual({ offset: 3n, metadata: '' });
    // One admin serves every partition.
    expect(eo.makeAdmin).toHaveBeenCalledTimes(1);
    expect(eo.log.slice(3)).toEqual(['claim in[1]', 'fetchOffsets order-group in']);
  });

  it('exactly once, takes an offset of 0 the group holds as it is', async () => {
    const eo = exactlyOnce({ in: { 0: '0' } });
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await expect(ownership.groupOffset('in', 0, '42')).resolves.toEqual({ offset: 0n, metadata: '' });
  });

  it('exactly once, takes the fetched offset when the group holds none for the partition', async () => {
    const eo = exactlyOnce({ in: { 0: '-1' } });
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await expect(ownership.groupOffset('in', 0, '42')).resolves.toEqual({ offset: 42n, metadata: '' });
    await expect(ownership.groupOffset('in', 5, '7')).resolves.toEqual({ offset: 7n, metadata: '' });
    await expect(ownership.groupOffset('absent', 0, '9')).resolves.toEqual({ offset: 9n, metadata: '' });
  });

  it('exactly once, reads the metadata the group holds with its offset', async () => {
    const metadata = encodeFinished(57n, [58n, 60n]);
    const eo = exactlyOnce({ in: { 0: { offset: '57', metadata }, 1: { offset: '3', metadata: '' }, 2: { offset: '-1', metadata: 'stale' } } });
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await expect(ownership.groupOffset('in', 0, '42')).resolves.toEqual({ offset: 57n, metadata });
    await expect(ownership.groupOffset('in', 1, '0')).resolves.toEqual({ offset: 3n, metadata: '' });
    // No offset held: the fetched one, and no metadata.
    await expect(ownership.groupOffset('in', 2, '8')).resolves.toEqual({ offset: 8n, metadata: '' });
  });

  it('exactly once, rejects while the admin cannot connect, and connects again for the next partition', async () => {
    const eo = exactlyOnce({ in: { 0: '5' } }, { failConnects: 1 });
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await expect(ownership.groupOffset('in', 0, '0')).rejects.toThrow('broker away');
    await expect(ownership.groupOffset('in', 0, '0')).resolves.toEqual({ offset: 5n, metadata: '' });
    expect(eo.makeAdmin).toHaveBeenCalledTimes(2);
    expect(eo.log).toEqual(['claim in[0]', 'connect', 'claim in[0]', 'connect', 'fetchOffsets order-group in']);
  });

  it('exactly once, rejects when the claim fails, before reading any offset', async () => {
    const eo = exactlyOnce({ in: { 0: '5' } });
    eo.transactions.claim.mockRejectedValueOnce(new Error('the service is stopping'));
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await expect(ownership.groupOffset('in', 0, '0')).rejects.toThrow('the service is stopping');
    expect(eo.admin.fetchOffsets).not.toHaveBeenCalled();
  });

  it('exactly once, reads the assignment’s offsets once the join’s claims are done, and each first batch uses its own', async () => {
    const offsets = { in: { 0: '57', 2: { offset: '9', metadata: encodeFinished(9n, [11n]) } } as Record<number, string | { offset: string; metadata: string }> };
    const eo = exactlyOnce(offsets);
    let claimed!: () => void;
    eo.transactions.renew.mockImplementationOnce(() => new Promise<void>((resolve) => (claimed = resolve)));
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    const joining = ownership.joined({ in: [0, 2] });
    await new Promise((resolve) => setImmediate(resolve));
    // Read before the claims end, an earlier writer could still move them; the admin connects meanwhile.
    expect(eo.log).toEqual(['connect']);
    claimed();
    await joining;
    await expect(ownership.groupOffset('in', 0, '42')).resolves.toEqual({ offset: 57n, metadata: '' });
    await expect(ownership.groupOffset('in', 2, '0')).resolves.toEqual({ offset: 9n, metadata: encodeFinished(9n, [11n]) });
    expect(eo.admin.fetchOffsets).toHaveBeenCalledTimes(1);
    // Used once: a partition confirmed again in the same generation (its first try failed) reads anew.
    offsets.in[0] = '60';
    await expect(ownership.groupOffset('in', 0, '42')).resolves.toEqual({ offset: 60n, metadata: '' });
    expect(eo.admin.fetchOffsets).toHaveBeenCalledTimes(2);
  });

  it('exactly once, reads anew the offset of a partition fenced since the join, and in a later generation', async () => {
    const offsets = { in: { 0: '5', 1: '7' } as Record<number, string> };
    const eo = exactlyOnce(offsets);
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await ownership.joined({ in: [0, 1] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(eo.admin.fetchOffsets).toHaveBeenCalledTimes(1);
    offsets.in[0] = '6';
    offsets.in[1] = '8';
    ownership.fence('in', 0);
    await expect(ownership.groupOffset('in', 0, '0')).resolves.toEqual({ offset: 6n, metadata: '' });
    ownership.crashed();
    await expect(ownership.groupOffset('in', 1, '0')).resolves.toEqual({ offset: 8n, metadata: '' });
    expect(eo.admin.fetchOffsets).toHaveBeenCalledTimes(3);
  });

  it('exactly once, reads the offset at the first batch when reading it at the join failed', async () => {
    // The admin connects at the join, and again once the claims are done: the broker is away both times.
    const eo = exactlyOnce({ in: { 0: '5' } }, { failConnects: 2 });
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await ownership.joined({ in: [0] });
    await new Promise((resolve) => setImmediate(resolve));
    await expect(ownership.groupOffset('in', 0, '0')).resolves.toEqual({ offset: 5n, metadata: '' });
    expect(eo.log).toEqual(['renew {"in":[0]}', 'connect', 'connect', 'claim in[0]', 'connect', 'fetchOffsets order-group in']);
  });

  it('disconnects its admin at close', async () => {
    const eo = exactlyOnce({ in: { 0: '5' } });
    const ownership = new PartitionOwnership(fakeControl().control, eo.settings);
    await ownership.groupOffset('in', 0, '0');
    await ownership.close();
    expect(eo.admin.disconnect).toHaveBeenCalledTimes(1);
    await ownership.close();
    expect(eo.admin.disconnect).toHaveBeenCalledTimes(1);
  });
});
