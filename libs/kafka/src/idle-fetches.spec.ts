import { createRequire } from 'node:module';
import { adaptiveFetch, FetchMode, IDLE_FETCH, installIdleFetches, QUIET_MS } from './idle-fetches';

const GATHER = { minBytes: 64 * 1024, maxWaitMs: 25 };
const batch = (records: number) => ({ isEmpty: () => records === 0 });
type Batch = ReturnType<typeof batch>;

interface Fields {
  minBytes: number;
  maxWaitTime: number;
  subscriptionState: { paused(): unknown[] };
  fetch(nodeId: number): Promise<Batch[]>;
}

/**
 * A stand-in for kafkajs' ConsumerGroup on a clock of the test's: its fetch waits a turn before it reads the
 * fields (kafkajs awaits the broker first), notes what it asked for, and returns the answer given for it.
 */
function group(minBytes: number, maxWaitTime: number) {
  let clock = 0;
  const asked: Array<{ nodeId: number; minBytes: number; maxWaitMs: number }> = [];
  const answers: Batch[][] = [];
  const paused: unknown[] = [];
  const fields: Fields = {
    minBytes,
    maxWaitTime,
    subscriptionState: { paused: () => paused },
    fetch: adaptiveFetch(
      async function (this: Fields, nodeId: number) {
        await Promise.resolve();
        asked.push({ nodeId, minBytes: this.minBytes, maxWaitMs: this.maxWaitTime });
        return answers.shift() ?? [batch(0)];
      },
      () => clock,
    ),
  };
  const fetchAt = async (time: number, answer: Batch[], nodeId = 1) => {
    clock = time;
    answers.push(answer);
    await fields.fetch(nodeId);
    return asked[asked.length - 1];
  };
  return { fields, asked, fetchAt, paused };
}

const settings = ({ minBytes, maxWaitMs }: { minBytes: number; maxWaitMs: number }) => ({ minBytes, maxWaitMs });

describe('fetches of a gathering consumer that has been quiet (idle fetches)', () => {
  it('gathers through short silences, idles after a quiet second, and gathers again at the first record', () => {
    const mode = new FetchMode(GATHER);
    expect(mode.current(0)).toEqual(GATHER);
    mode.fetched([batch(0), batch(0)], 0, false);
    expect(mode.current(QUIET_MS - 1)).toEqual(GATHER);
    mode.fetched([batch(0)], QUIET_MS - 1, false);
    expect(mode.current(QUIET_MS)).toEqual(IDLE_FETCH);
    mode.fetched([batch(0), batch(2)], QUIET_MS + 300, false);
    expect(mode.current(QUIET_MS + 300)).toEqual(GATHER);
    expect(IDLE_FETCH.minBytes).toBe(1);
  });

  it('a record ends a quiet that has not lasted a second, which then starts over', () => {
    const mode = new FetchMode(GATHER);
    mode.fetched([batch(0)], 0, false);
    mode.fetched([batch(1)], 900, false);
    mode.fetched([batch(0)], 950, false);
    expect(mode.current(1500)).toEqual(GATHER);
    expect(mode.current(950 + QUIET_MS)).toEqual(IDLE_FETCH);
  });

  it('stays gathering while a partition is paused for a retry, so its resume does not wait behind an idle fetch', () => {
    const mode = new FetchMode(GATHER);
    mode.fetched([batch(0)], 0, false);
    // Every partition paused: kafkajs returns no batch at all; some paused: the others come back empty.
    mode.fetched([], 500, true);
    mode.fetched([batch(0)], 900, true);
    expect(mode.current(900 + QUIET_MS - 1)).toEqual(GATHER);
    mode.fetched([batch(0)], 2000, false);
    expect(mode.current(2000 + QUIET_MS)).toEqual(IDLE_FETCH);
  });

  it('idles when it has nothing to ask for (no partition assigned) or its fetches fail', () => {
    const mode = new FetchMode(GATHER);
    mode.fetched([], 0, false);
    mode.fetched([], 800, false);
    expect(mode.current(QUIET_MS)).toEqual(IDLE_FETCH);
  });

  it("sets kafkajs' fields for each fetch from the consumer's mode", async () => {
    const { fetchAt } = group(GATHER.minBytes, GATHER.maxWaitMs);
    expect(settings(await fetchAt(0, [batch(2)]))).toEqual(GATHER);
    expect(settings(await fetchAt(25, [batch(0)]))).toEqual(GATHER);
    expect(settings(await fetchAt(600, [batch(0)]))).toEqual(GATHER);
    expect(settings(await fetchAt(25 + QUIET_MS, [batch(1)]))).toEqual(IDLE_FETCH);
    expect(settings(await fetchAt(1100, [batch(0)]))).toEqual(GATHER);
  });

  it('one mode for all the brokers a consumer fetches from: a record from any ends the quiet for all', async () => {
    const { fetchAt } = group(GATHER.minBytes, GATHER.maxWaitMs);
    await fetchAt(0, [batch(0)], 1);
    expect(settings(await fetchAt(QUIET_MS, [batch(0)], 2))).toEqual(IDLE_FETCH);
    expect(settings(await fetchAt(QUIET_MS + 5, [batch(0)], 1))).toEqual(IDLE_FETCH);
    await fetchAt(QUIET_MS + 10, [batch(4)], 2);
    expect(settings(await fetchAt(QUIET_MS + 20, [batch(0)], 1))).toEqual(GATHER);
  });

  it("reads kafkajs' paused partitions after each fetch", async () => {
    const { fetchAt, paused } = group(GATHER.minBytes, GATHER.maxWaitMs);
    await fetchAt(0, [batch(1)]);
    paused.push({ topic: 'order-created', partitions: [0] });
    await fetchAt(10, [batch(0)]);
    expect(settings(await fetchAt(10 + QUIET_MS, [batch(0)]))).toEqual(GATHER);
  });

  it('leaves a consumer that does not gather as it was created', async () => {
    const { fetchAt } = group(1, 100);
    for (const time of [0, 2 * QUIET_MS, 4 * QUIET_MS]) expect(settings(await fetchAt(time, [batch(0)]))).toEqual({ minBytes: 1, maxWaitMs: 100 });
  });

  it("wraps kafkajs' own ConsumerGroup, whose fetch reads the fields it sets", () => {
    type ConsumerGroupClass = new (options: Record<string, unknown>) => { minBytes: number; maxWaitTime: number; subscriptionState: { paused(): unknown[] } };
    const ConsumerGroup = createRequire(__filename)('kafkajs/src/consumer/consumerGroup.js') as ConsumerGroupClass & { prototype: { fetch: () => unknown } };
    const original = ConsumerGroup.prototype.fetch;
    // The fields the wrapper sets are the ones kafkajs' fetch request reads: a rename in kafkajs fails here.
    expect(original.toString()).toMatch(/maxWaitTime: this\.maxWaitTime,\s*minBytes: this\.minBytes/);
    const logger = { namespace: () => logger, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const created = new ConsumerGroup({ logger, minBytes: 65536, maxWaitTimeInMs: 25, topics: [], retry: {} });
    expect([created.minBytes, created.maxWaitTime]).toEqual([65536, 25]);
    expect(created.subscriptionState.paused()).toEqual([]);
    installIdleFetches();
    const wrapped = ConsumerGroup.prototype.fetch;
    expect(wrapped).not.toBe(original);
    installIdleFetches();
    expect(ConsumerGroup.prototype.fetch).toBe(wrapped);
  });
});
