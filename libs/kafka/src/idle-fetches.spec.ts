import { createRequire } from 'node:module';
import { adaptiveFetch, IDLE_FETCH, installIdleFetches, nextFetch } from './idle-fetches';

const GATHER = { minBytes: 64 * 1024, maxWaitMs: 25 };
const batch = (records: number) => ({ isEmpty: () => records === 0 });

/** A stand-in for kafkajs' ConsumerGroup: its fetch notes what each request asked for and returns what it is given. */
function group(minBytes: number, maxWaitTime: number, answers: Array<Array<ReturnType<typeof batch>>>) {
  const asked: Array<{ nodeId: number; minBytes: number; maxWaitMs: number }> = [];
  interface Fields {
    minBytes: number;
    maxWaitTime: number;
    fetch(nodeId: number): Promise<Array<ReturnType<typeof batch>>>;
  }
  const fields: Fields = {
    minBytes,
    maxWaitTime,
    fetch: adaptiveFetch(async function (this: Fields, nodeId: number) {
      asked.push({ nodeId, minBytes: this.minBytes, maxWaitMs: this.maxWaitTime });
      return answers.shift() ?? [];
    }),
  };
  return { fields, asked };
}

describe('fetches of a gathering consumer that finds nothing (idle fetches)', () => {
  it('gathers while records come, and waits for the first one once none came', () => {
    expect(nextFetch(GATHER, [batch(0), batch(3)])).toEqual(GATHER);
    expect(nextFetch(GATHER, [batch(0), batch(0)])).toEqual(IDLE_FETCH);
    expect(nextFetch(GATHER, [])).toEqual(IDLE_FETCH);
    expect(IDLE_FETCH.minBytes).toBe(1);
  });

  it('asks with its gathering first, idles after an empty fetch, and gathers again once a record came', async () => {
    const { fields, asked } = group(GATHER.minBytes, GATHER.maxWaitMs, [[batch(2)], [batch(0)], [batch(0)], [batch(1)], []]);
    for (let i = 0; i < 5; i++) await fields.fetch(1);
    expect(asked.map(({ minBytes, maxWaitMs }) => ({ minBytes, maxWaitMs }))).toEqual([GATHER, GATHER, IDLE_FETCH, IDLE_FETCH, GATHER]);
  });

  it('keeps the mode of each broker apart', async () => {
    // Broker 1 brings nothing, broker 2 records: only broker 1's next fetch idles.
    const { fields, asked } = group(GATHER.minBytes, GATHER.maxWaitMs, [[batch(0)], [batch(5)], [], []]);
    await fields.fetch(1);
    await fields.fetch(2);
    await fields.fetch(1);
    await fields.fetch(2);
    expect(asked.slice(2)).toEqual([
      { nodeId: 1, ...IDLE_FETCH },
      { nodeId: 2, ...GATHER },
    ]);
  });

  it('leaves a consumer that does not gather as it was created', async () => {
    const { fields, asked } = group(1, 500, [[batch(0)], [batch(0)]]);
    await fields.fetch(1);
    await fields.fetch(1);
    expect(asked.map(({ minBytes, maxWaitMs }) => ({ minBytes, maxWaitMs }))).toEqual([
      { minBytes: 1, maxWaitMs: 500 },
      { minBytes: 1, maxWaitMs: 500 },
    ]);
  });

  it("wraps kafkajs' own ConsumerGroup, whose fetch reads the fields it sets", () => {
    type ConsumerGroupClass = new (options: Record<string, unknown>) => { minBytes: number; maxWaitTime: number; fetch: unknown };
    const ConsumerGroup = createRequire(__filename)('kafkajs/src/consumer/consumerGroup.js') as ConsumerGroupClass & { prototype: { fetch: () => unknown } };
    const original = ConsumerGroup.prototype.fetch;
    // The fields the wrapper sets are the ones kafkajs' fetch request reads: a rename in kafkajs fails here.
    expect(original.toString()).toMatch(/maxWaitTime: this\.maxWaitTime,\s*minBytes: this\.minBytes/);
    const logger = { namespace: () => logger, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const created = new ConsumerGroup({ logger, minBytes: 65536, maxWaitTimeInMs: 25, topics: [], retry: {} });
    expect([created.minBytes, created.maxWaitTime]).toEqual([65536, 25]);
    installIdleFetches();
    expect(ConsumerGroup.prototype.fetch).not.toBe(original);
    installIdleFetches();
    const once = ConsumerGroup.prototype.fetch;
    installIdleFetches();
    expect(ConsumerGroup.prototype.fetch).toBe(once);
  });
});
