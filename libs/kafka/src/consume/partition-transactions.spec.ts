import { KafkaJSProtocolError, type Kafka } from 'kafkajs';
import { isFenced, PartitionNotClaimed, PartitionTransactions } from './partition-transactions';

/** The partitions a transaction's sendOffsets got (kafkajs passes their metadata on, though its type does not declare it). */
type SentOffsets = { consumerGroupId: string; topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string; metadata?: string }> }> };

/** A kafkajs stand-in that records what each transactional producer did, in order, and what each sendOffsets got. */
function fakeKafka(options: { failOn?: string; hangOn?: string[]; concurrentOffsets?: number } = {}) {
  const calls: string[] = [];
  const offsets: SentOffsets[] = [];
  const producers: Array<{ transactionalId: string }> = [];
  const kafka = {
    producer: (config: { transactionalId: string }) => {
      producers.push(config);
      const id = config.transactionalId;
      let active = false;
      const step = async (name: string) => {
        calls.push(`${id} ${name}`);
        if (options.failOn === name) throw new Error(`${name} failed`);
        if (options.hangOn?.includes(name)) await new Promise(() => undefined); // the broker never answers
      };
      return {
        connect: () => step('connect'),
        disconnect: () => step('disconnect'),
        transaction: async () => {
          await step('begin');
          active = true;
          return {
            sendBatch: ({ topicMessages }: { topicMessages: Array<{ topic: string; messages: unknown[] }> }) =>
              step(`send ${topicMessages.map((t) => `${t.topic}×${t.messages.length}`).join(',')}`),
            sendOffsets: async ({ consumerGroupId, topics }: SentOffsets) => {
              if ((options.concurrentOffsets ?? 0) > 0) {
                options.concurrentOffsets! -= 1;
                calls.push(`${id} offsets refused: concurrent`);
                throw new KafkaJSProtocolError(Object.assign(new Error('concurrent'), { type: 'CONCURRENT_TRANSACTIONS', code: 51, retriable: false }));
              }
              offsets.push({ consumerGroupId, topics });
              return step(`offsets ${consumerGroupId} ${topics[0].topic}[${topics[0].partitions[0].partition}]=${topics[0].partitions[0].offset}`);
            },
            commit: async () => {
              await step('commit');
              active = false;
            },
            abort: async () => {
              active = false;
              await step('abort');
            },
            isActive: () => active,
          };
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, calls, producers, offsets };
}

const event = (key: string, bytes = 10) => ({ key, value: { pad: 'x'.repeat(bytes) } });

describe('PartitionTransactions', () => {
  it("retries a step the coordinator refuses while it still ends the partition's previous transaction (CONCURRENT_TRANSACTIONS)", async () => {
    const { kafka, calls, offsets } = fakeKafka({ concurrentOffsets: 2 });
    const transactions = new PartitionTransactions(kafka, 'g');
    await transactions.claim('in', 0);
    await transactions.commit('in', 0, [], '42');
    expect(calls.slice(3)).toEqual(['g.in.0 begin', 'g.in.0 offsets refused: concurrent', 'g.in.0 offsets refused: concurrent', 'g.in.0 offsets g in[0]=42', 'g.in.0 commit']);
    expect(offsets).toHaveLength(1);
  });

  it('claims a partition with a transactional id of its own, initialised (which fences) before any write', async () => {
    const { kafka, calls, producers } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'order-service-group');
    await transactions.claim('payment-successful', 2);
    await transactions.claim('payment-successful', 2);
    expect(producers).toEqual([expect.objectContaining({ transactionalId: 'order-service-group.payment-successful.2', idempotent: true, maxInFlightRequests: 1 })]);
    expect(calls).toEqual([
      'order-service-group.payment-successful.2 connect',
      'order-service-group.payment-successful.2 begin',
      'order-service-group.payment-successful.2 abort',
    ]);
  });

  it('writes the staged events, then the offset, then commits, in one transaction', async () => {
    const { kafka, calls } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'g');
    await transactions.claim('in', 0);
    await transactions.commit('in', 0, [{ topic: 'out', events: [event('1'), event('2')] }, { topic: 'dlq', events: [event('3')] }], '42');
    expect(calls.slice(3)).toEqual(['g.in.0 begin', 'g.in.0 send out×2,dlq×1', 'g.in.0 offsets g in[0]=42', 'g.in.0 commit']);
  });

  it('splits the events into requests of at most 512 kB, keeping their order, and sends a larger one alone', async () => {
    const { kafka, calls } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'g');
    const big = 300 * 1024;
    await transactions.claim('in', 0);
    await transactions.commit('in', 0, [{ topic: 'out', events: [event('1', big), event('2', big), event('3', 10), event('4', 600 * 1024)] }], '9');
    expect(calls.filter((c) => c.includes('send'))).toEqual(['g.in.0 send out×1', 'g.in.0 send out×2', 'g.in.0 send out×1']);
  });

  it('aborts on a failure and drops the producer; it never claims the partition again by itself', async () => {
    const { kafka, calls, producers } = fakeKafka({ failOn: 'commit' });
    const transactions = new PartitionTransactions(kafka, 'g');
    await transactions.claim('in', 0);
    await expect(transactions.commit('in', 0, [{ topic: 'out', events: [event('1')] }], '5')).rejects.toThrow('commit failed');
    expect(calls.slice(-3)).toEqual(['g.in.0 commit', 'g.in.0 abort', 'g.in.0 disconnect']);
    await expect(transactions.commit('in', 0, [], '5')).rejects.toThrow(PartitionNotClaimed);
    expect(producers).toHaveLength(1);
    expect(transactions.holds('in', 0)).toBe(false);
  });

  it('claims every assigned partition afresh after a rebalance, fencing even its own earlier producer', async () => {
    const { kafka, calls, producers } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'g');
    await transactions.claim('in', 0);
    await transactions.renew({ in: [0, 1] });
    expect(producers.map((p) => p.transactionalId)).toEqual(['g.in.0', 'g.in.0', 'g.in.1']);
    expect(calls.filter((c) => c.endsWith('disconnect'))).toEqual(['g.in.0 disconnect']);
  });

  it('gives up a write still waiting on the broker once abandoned (the service is stopping)', async () => {
    const { kafka } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'g');
    const producer = await transactions.claim('in', 0);
    const hung = { sendBatch: () => new Promise(() => undefined), isActive: () => true, abort: () => new Promise(() => undefined) };
    (producer as unknown as { transaction: () => Promise<unknown> }).transaction = async () => hung;
    const writing = transactions.commit('in', 0, [{ topic: 'out', events: [event('1')] }], '5');
    transactions.abandon();
    await expect(writing).rejects.toThrow('the service is stopping');
  });

  it('gives up claiming once abandoned, though the broker never answers, and closes without waiting for it', async () => {
    // Neither connecting nor disconnecting ever ends, as with a broker that is away.
    const { kafka, calls } = fakeKafka({ hangOn: ['connect', 'disconnect'] });
    const transactions = new PartitionTransactions(kafka, 'g');
    const claiming = transactions.claim('in', 0);
    expect(transactions.holds('in', 0)).toBe(true);
    transactions.abandon();
    await expect(claiming).rejects.toThrow('the service is stopping');
    await transactions.close();
    expect(transactions.holds('in', 0)).toBe(false);
    expect(calls).toEqual(['g.in.0 connect', 'g.in.0 disconnect']);
    // Stopped, a new claim makes no producer at all.
    await expect(transactions.claim('in', 1)).rejects.toThrow('the service is stopping');
    expect(calls).toEqual(['g.in.0 connect', 'g.in.0 disconnect']);
  }, 2000);

  it('never moves an offset back with a bare offset commit, and runs one commit of a partition at a time', async () => {
    const { kafka, calls } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'g');
    await transactions.claim('in', 0);
    await Promise.all([transactions.commit('in', 0, [{ topic: 'out', events: [event('1')] }], '10'), transactions.commit('in', 0, [], '8')]);
    expect(calls.filter((c) => c.includes('offsets'))).toEqual(['g.in.0 offsets g in[0]=10']);
  });

  it('sends the metadata with the offset (empty when none is given)', async () => {
    const { kafka, offsets } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'g');
    await transactions.claim('in', 3);
    await transactions.commit('in', 3, [{ topic: 'out', events: [event('1')] }], '42', 'pc1:BQ');
    await transactions.commit('in', 3, [{ topic: 'out', events: [event('2')] }], '45');
    expect(offsets).toEqual([
      { consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 3, offset: '42', metadata: 'pc1:BQ' }] }] },
      { consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 3, offset: '45', metadata: '' }] }] },
    ]);
  });

  it('writes a bare commit at the same offset with new metadata, and skips one that changes nothing', async () => {
    const { kafka, calls, offsets } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'g');
    await transactions.claim('in', 0);
    await transactions.commit('in', 0, [{ topic: 'out', events: [event('1')] }], '10', 'pc1:AQ');
    // The same offset, more records finished beyond it: written.
    await transactions.commit('in', 0, [], '10', 'pc1:Aw');
    // The same offset and metadata again: skipped.
    await transactions.commit('in', 0, [], '10', 'pc1:Aw');
    // Back, whatever the metadata: skipped.
    await transactions.commit('in', 0, [], '9', 'pc1:Bw');
    // Forward, with no metadata: written.
    await transactions.commit('in', 0, [], '12');
    await transactions.commit('in', 0, [], '12', '');
    expect(offsets.map((o) => o.topics[0].partitions[0])).toEqual([
      { partition: 0, offset: '10', metadata: 'pc1:AQ' },
      { partition: 0, offset: '10', metadata: 'pc1:Aw' },
      { partition: 0, offset: '12', metadata: '' },
    ]);
    expect(calls.filter((c) => c.endsWith('commit'))).toHaveLength(3);
  });

  it('writes a commit with events even at the same offset and metadata', async () => {
    const { kafka, offsets } = fakeKafka();
    const transactions = new PartitionTransactions(kafka, 'g');
    await transactions.claim('in', 0);
    await transactions.commit('in', 0, [], '10', 'pc1:AQ');
    await transactions.commit('in', 0, [{ topic: 'out', events: [event('1')] }], '10', 'pc1:AQ');
    expect(offsets).toHaveLength(2);
  });
});

describe('isFenced', () => {
  it('recognises the broker refusing an older epoch, wrapped or not', () => {
    const fenced = new KafkaJSProtocolError(Object.assign(new Error('epoch'), { type: 'INVALID_PRODUCER_EPOCH', code: 47 }));
    expect(isFenced(fenced)).toBe(true);
    expect(isFenced(Object.assign(new Error('gave up'), { cause: fenced }))).toBe(true);
    expect(isFenced(new Error('ECONNREFUSED'))).toBe(false);
  });
});
