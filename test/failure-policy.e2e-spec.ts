import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CONSUMER_GROUPS, DLQ_TOPICS, TOPICS, type DeadLetterRecord } from '@app/contracts';
import { originalBytes } from '@app/kafka';
import { CompressionCodecs, CompressionTypes, type Producer } from 'kafkajs';
import request from 'supertest';
import { waitFor } from '../scripts/lib/wait';
import { chainServices } from './support/chain-control';
import { queryTestDatabase } from './support/database';
import { DeadLetterReader } from './support/dead-letters';
import { paymentEvent } from './support/events';
import { testBrokers } from './support/environment';
import { CHAIN_DEADLINE_MS, freshUserId, ordersOf } from './support/http';
import { connectedProducer, testKafka } from './support/kafka';
import { metric } from './support/metrics';

const PAYMENTS_DLQ = DLQ_TOPICS[TOPICS.paymentSuccessful];

const payment = (userId: number, paymentId: string, lines = 1) => paymentEvent(userId, paymentId, { lines });

async function orderInstances() {
  return (await chainServices()).filter((s) => s.label.startsWith('order-'));
}

/** What every order instance's /health says of its stalled partitions. */
async function stalls(): Promise<Array<{ reason: string; attempts: number }>> {
  const all = [];
  for (const instance of await orderInstances()) {
    const health = await request(instance.url).get('/health');
    all.push(...(health.body.details?.kafka?.stalled ?? []));
  }
  return all;
}


let producer: Producer;
let dlq: DeadLetterReader;

beforeAll(async () => {
  producer = await connectedProducer();
  dlq = await DeadLetterReader.start(PAYMENTS_DLQ);
});

afterAll(async () => {
  await dlq.stop();
  await producer.disconnect();
});

describe('an outage is waited out, never dead-lettered', () => {
  afterAll(async () => {
    // Whatever happened, leave the table where the other suites expect it.
    await queryTestDatabase('ALTER TABLE IF EXISTS orders.orders_away RENAME TO orders');
  });

  it('retries while the orders table is renamed away, and makes every order once it is back', async () => {
    const run = randomUUID();
    const users = Array.from({ length: 10 }, () => freshUserId());
    const retriesBefore = await Promise.all((await orderInstances()).map((i) => metric(i.url, /^kafka_handler_retries_total\{topic="payment-successful"\}/)));

    await queryTestDatabase('ALTER TABLE orders.orders RENAME TO orders_away');
    await producer.send({
      topic: TOPICS.paymentSuccessful,
      messages: users.map((userId, i) => ({ key: String(userId), value: JSON.stringify(payment(userId, `outage-${run}-${i}`)) })),
    });
    // The fault is really hit: partitions stall on the missing table and are retried more than once.
    const seen = await waitFor(async () => {
      const found = (await stalls()).filter((s) => /orders\.orders|does not exist/.test(s.reason));
      return found.some((s) => s.attempts >= 3) ? found : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, intervalMs: 100, what: 'order partitions to stall on the missing table, and be retried' });
    expect(seen[0].reason).toMatch(/relation "orders\.orders" does not exist/);
    const stalledGauge = async () =>
      (await Promise.all((await orderInstances()).map((i) => metric(i.url, /^kafka_partitions_stalled\{topic="payment-successful"\}/)))).reduce((a, b) => a + b);
    // The gauge counts the stalled partitions while the table is away (one to three of them), and none after.
    expect(await stalledGauge()).toBeGreaterThanOrEqual(1);
    expect(await stalledGauge()).toBeLessThanOrEqual(3);
    await queryTestDatabase('ALTER TABLE orders.orders_away RENAME TO orders');

    for (const [i, userId] of users.entries()) {
      const [order] = await waitFor(async () => {
        const found = await ordersOf(userId);
        return found.length > 0 ? found : undefined;
      }, { timeoutMs: 60_000, what: `the order of payment ${i} after the table came back` });
      expect(order.payment_id).toBe(`outage-${run}-${i}`);
    }
    await waitFor(async () => ((await stalls()).length === 0 ? true : undefined), { timeoutMs: 30_000, what: 'no partition to be stalled any more' });
    expect(await stalledGauge()).toBe(0);
    const retriesAfter = await Promise.all((await orderInstances()).map((i) => metric(i.url, /^kafka_handler_retries_total\{topic="payment-successful"\}/)));
    expect(retriesAfter.reduce((a, b) => a + b) - retriesBefore.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(3);

    // Nothing of this run was dead-lettered. The reader is shown to be caught up by a bad record sent last.
    const sentinel = `not json ${run}`;
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key: String(users[0]), value: sentinel }] });
    await dlq.waitFor((l) => l.original_message === sentinel && l.group === CONSUMER_GROUPS.order, 1, 'the sentinel bad record in the DLQ');
    expect(dlq.letters.filter((l) => l.original_message?.includes(`outage-${run}`))).toEqual([]);
  });
});

describe('records that other clients write', () => {
  /** Counts each codec's decompressions in this process, to prove the records were really compressed. */
  function countDecompressions(): Record<string, number> {
    const counts: Record<string, number> = {};
    const codecs = CompressionCodecs as Record<number, () => { decompress: (b: Buffer) => Promise<Buffer> }>;
    for (const [name, type] of Object.entries({ gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD })) {
      const factory = codecs[type];
      codecs[type] = () => {
        const codec = factory();
        return { ...codec, decompress: (buffer: Buffer) => ((counts[name] = (counts[name] ?? 0) + 1), codec.decompress(buffer)) };
      };
    }
    return counts;
  }

  it('reads a batch of each codec that librdkafka (kcat) writes, and the services stay up', async () => {
    const run = randomUUID();
    const codecs = ['gzip', 'snappy', 'lz4', 'zstd'];
    const userId = freshUserId();
    const ids = codecs.map((codec) => `${codec}-${run}`);
    for (const [i, codec] of codecs.entries()) {
      // A cart of identical items compresses well: librdkafka sends a batch uncompressed when compressing does not shrink it.
      const line = `${userId}\t${JSON.stringify(payment(userId, ids[i], 20))}\n`;
      const kcat = spawnSync('kcat', ['-P', '-b', testBrokers().join(','), '-t', TOPICS.paymentSuccessful, '-z', codec, '-K', '\t'], { input: line, encoding: 'utf8' });
      expect({ codec, status: kcat.status, stderr: kcat.stderr }).toEqual({ codec, status: 0, stderr: '' });
    }

    const orders = await waitFor(async () => {
      const found = await ordersOf(userId);
      return found.length === codecs.length ? found : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'an order for the payment of each codec' });
    expect(orders.map((o) => o.payment_id).sort()).toEqual([...ids].sort());
    for (const instance of await orderInstances()) {
      expect(instance.running).toBe(true);
      expect((await request(instance.url).get('/health').expect(200)).body.details.kafka.consumer).toBe('joined');
    }

    // Reading the records back through the registered codecs shows each was written compressed with its codec.
    const counts = countDecompressions();
    const reader = testKafka().consumer({ groupId: `e2e-codecs-${run}` });
    const found = new Set<string>();
    await reader.connect();
    try {
      await reader.subscribe({ topic: TOPICS.paymentSuccessful, fromBeginning: true });
      await reader.run({ eachMessage: async ({ message }) => void (ids.some((id) => String(message.value).includes(id)) && found.add(String(message.value))) });
      await waitFor(() => found.size === codecs.length, { timeoutMs: 60_000, what: 'the four records, read back' });
    } finally {
      await reader.disconnect();
    }
    expect(counts).toEqual(expect.objectContaining({ gzip: expect.any(Number), snappy: expect.any(Number), lz4: expect.any(Number), zstd: expect.any(Number) }));
  });

  it('dead-letters a gzip batch the client cannot decode, whole, and goes on with the next of its key', async () => {
    const userId = freshUserId();
    const key = String(userId);
    const run = randomUUID();
    const inBatch = [1, 2, 3].map((n) => payment(userId, `undecodable-${n}-${run}`, 20));
    // The broker reads gzip as Java's GZIPInputStream does, which ignores a broken member after the first, so it
    // takes this batch; Node's zlib, which kafkajs decompresses with, refuses it. Written through kafkajs' codec table.
    const brokenMember = gzipSync(Buffer.alloc(0)).subarray(0, 4);
    const codecs = CompressionCodecs as Record<number, () => { compress: (e: { buffer: Buffer }) => Promise<Buffer> }>;
    const gzip = codecs[CompressionTypes.GZIP];
    codecs[CompressionTypes.GZIP] = () => ({ ...gzip(), compress: async ({ buffer }) => Buffer.concat([gzipSync(buffer), brokenMember]) });
    let written;
    try {
      [written] = await producer.send({ topic: TOPICS.paymentSuccessful, compression: CompressionTypes.GZIP, messages: inBatch.map((p) => ({ key, value: JSON.stringify(p) })) });
    } finally {
      codecs[CompressionTypes.GZIP] = gzip;
    }
    const good = payment(userId, `after-undecodable-${run}`);
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key, value: JSON.stringify(good) }] });

    const orders = await waitFor(async () => {
      const found = await ordersOf(userId);
      return found.length > 0 ? found : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the order of the payment behind the undecodable batch' });
    expect(orders.map((o) => o.payment_id)).toEqual([good.payment_id]);

    const lastOffset = String(BigInt(written.baseOffset!) + 2n);
    const atBatch = (l: DeadLetterRecord) => l.partition === written.partition && l.offset === lastOffset;
    const letters = await dlq.waitFor(atBatch, 2, 'the batch dead-lettered by order and analytics');
    expect(letters.map((l) => l.group).sort()).toEqual([CONSUMER_GROUPS.analytics, CONSUMER_GROUPS.order]);
    for (const letter of letters) {
      expect(letter).toMatchObject({ retriable: false, truncated: false, original_encoding: 'base64', original_key: null });
      expect(letter.error).toContain(`could not decode the record batch at offsets ${written.baseOffset}..${lastOffset} (3 record(s), compression gzip)`);
      // The batch as the broker holds it: its first offset, gzip, three records, and the broken member at the end.
      const batch = originalBytes(letter)!;
      expect({ first: String(batch.readBigInt64BE(0)), codec: batch.readInt16BE(21) & 7, records: batch.readInt32BE(57) }).toEqual({ first: written.baseOffset, codec: 1, records: 3 });
      expect(batch.subarray(-4).equals(brokenMember)).toBe(true);
    }
    for (const instance of await orderInstances()) {
      expect(instance.running).toBe(true);
      expect((await request(instance.url).get('/health').expect(200)).body.details.kafka.consumer).toBe('joined');
    }
  });

  it('dead-letters a record as large as the broker allows, of binary bytes, whole; the next of its key is handled', async () => {
    const userId = freshUserId();
    const key = String(userId);
    // The broker's default limit (message.max.bytes) is 1,048,588 bytes for a batch: a lone record just under it.
    const value = randomBytes(1_048_000);
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key, value, headers: { origin: Buffer.from([0xff, 0x00]) } }] });
    const good = payment(userId, `after-large-${randomUUID()}`);
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key, value: JSON.stringify(good) }] });

    const [order] = await waitFor(async () => {
      const found = await ordersOf(userId);
      return found.length > 0 ? found : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the order of the payment behind the large record' });
    expect(order.payment_id).toBe(good.payment_id);

    const letters = await dlq.waitFor((l) => l.original_key === key, 2, 'the large record dead-lettered by order and analytics');
    expect(letters.map((l) => l.group).sort()).toEqual([CONSUMER_GROUPS.analytics, CONSUMER_GROUPS.order]);
    for (const letter of letters) {
      expect(letter).toMatchObject({ truncated: false, original_encoding: 'base64', original_bytes: value.length, retriable: false });
      expect(originalBytes(letter)!.equals(value)).toBe(true);
      expect(letter.original_headers).toEqual([{ key: 'origin', value: '/wA=', encoding: 'base64' }]);
    }
    for (const instance of await orderInstances()) expect(instance.running).toBe(true);
  });
});
