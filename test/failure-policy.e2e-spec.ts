import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CONSUMER_GROUPS, DLQ_TOPICS, TOPICS, type DeadLetterRecord } from '@app/contracts';
import { DEAD_LETTER_MAX_BYTES, originalBytes } from '@app/kafka';
import { CompressionCodecs, CompressionTypes, ConfigResourceTypes, type Producer } from 'kafkajs';
import request from 'supertest';
import { waitFor } from '../scripts/lib/wait';
import { chainServices } from './support/chain-control';
import { queryTestDatabase } from './support/database';
import { DeadLetterReader } from './support/dead-letters';
import { paymentEvent } from './support/events';
import { testBrokers } from './support/environment';
import { CHAIN_DEADLINE_MS, freshUserId, ordersArriving, ordersOf } from './support/http';
import { connectedProducer, testKafka, withAdmin } from './support/kafka';
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
      const [order] = await ordersArriving(userId, `the order of payment ${i} after the table came back`, 60_000);
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

describe('a record the database refuses as data', () => {
  afterAll(async () => {
    await queryTestDatabase('DROP TRIGGER IF EXISTS e2e_refuse_one ON orders.orders');
    await queryTestDatabase('DROP FUNCTION IF EXISTS orders.e2e_refuse_one()');
    await queryTestDatabase('DROP SEQUENCE IF EXISTS orders.e2e_refused_attempts');
  });

  it("fails its batch's one INSERT; each order of the batch is tried again alone, and only the refused one is dead-lettered", async () => {
    const run = randomUUID();
    const users = Array.from({ length: 20 }, () => freshUserId());
    const refused = `refused-${run}`;
    // The database itself refuses one payment's row as data (SQLSTATE 23514, a check violation), as a
    // constraint the contract does not know would. A sequence counts the row's attempts: sequences are not
    // transactional, so the attempt inside the failed batch is counted too.
    await queryTestDatabase('CREATE SEQUENCE orders.e2e_refused_attempts');
    await queryTestDatabase(`CREATE FUNCTION orders.e2e_refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.payment_id = '${refused}' THEN
          PERFORM nextval('orders.e2e_refused_attempts');
          RAISE EXCEPTION 'the test refuses payment %', NEW.payment_id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END $$`);
    await queryTestDatabase('CREATE TRIGGER e2e_refuse_one BEFORE INSERT ON orders.orders FOR EACH ROW EXECUTE FUNCTION orders.e2e_refuse_one()');

    // Twenty payments of twenty users in one partition and one request: one fetch, handled side by side, so
    // their orders go in one coalesced INSERT, which the refused row fails.
    const paymentId = (i: number) => (i === 7 ? refused : `beside-refused-${run}-${i}`);
    await producer.send({
      topic: TOPICS.paymentSuccessful,
      messages: users.map((userId, i) => ({ key: String(userId), partition: 0, value: JSON.stringify(payment(userId, paymentId(i))) })),
    });

    const [letter] = await dlq.waitFor((l) => l.original_message?.includes(refused) === true, 1, 'the refused payment in the DLQ', CHAIN_DEADLINE_MS);
    expect(letter).toMatchObject({ group: CONSUMER_GROUPS.order, retriable: false, topic: TOPICS.paymentSuccessful, partition: 0 });
    expect(letter.error).toContain(`the test refuses payment ${refused}`);
    // Tried twice: once among the others in the batch's INSERT, once alone.
    const [{ attempts }] = await queryTestDatabase<{ attempts: string }>('SELECT last_value AS attempts FROM orders.e2e_refused_attempts');
    expect(Number(attempts)).toBe(2);

    // Every other payment of the batch became its order, once.
    for (const [i, userId] of users.entries()) {
      if (i === 7) continue;
      const orders = await ordersArriving(userId, `the order of payment ${i}, beside the refused one`);
      expect(orders.map((o) => o.payment_id)).toEqual([paymentId(i)]);
    }
    expect(await ordersOf(users[7])).toEqual([]);

    // None of the others was dead-lettered. A bad record sent last, on the same partition, shows the reader
    // has seen everything the order group wrote before it.
    const sentinel = `not json ${run}`;
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key: String(users[0]), partition: 0, value: sentinel }] });
    await dlq.waitFor((l) => l.original_message === sentinel && l.group === CONSUMER_GROUPS.order, 1, 'the sentinel bad record in the DLQ');
    const ofThisRun = dlq.letters.filter((l) => l.original_message?.includes(run) && l.original_message !== sentinel);
    expect(ofThisRun.map((l) => [l.group, JSON.parse(l.original_message!).payment_id])).toEqual([[CONSUMER_GROUPS.order, refused]]);
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

    const orders = await ordersArriving(userId, 'the order of the payment behind the undecodable batch');
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

    const [order] = await ordersArriving(userId, 'the order of the payment behind the large record');
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

  it('cuts a record too large for its dead letter, counting bytes, and keeps its length and SHA-256; the next of its key is handled', async () => {
    // A topic whose limit was raised above the DLQ topics' takes records no letter can hold whole: 2.5 MiB of
    // binary bytes is 3.3 MiB in base64, past the letter's 2 MiB.
    const topic = TOPICS.paymentSuccessful;
    const overrides = await withAdmin(async (admin) => {
      const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
      return resources[0].configEntries.filter((e) => !e.isDefault).map((e) => ({ name: e.configName, value: e.configValue }));
    });
    // kafkajs's alterConfigs replaces the topic's whole set of overrides: they are given back as they were.
    const setOverrides = (configEntries: Array<{ name: string; value: string }>) =>
      withAdmin((admin) => admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries }] }));
    await setOverrides([...overrides.filter((e) => e.name !== 'max.message.bytes'), { name: 'max.message.bytes', value: String(4 * 1024 * 1024) }]);
    try {
      const userId = freshUserId();
      const key = String(userId);
      const value = randomBytes(2.5 * 1024 * 1024);
      await waitFor(async () => {
        // The broker applies a topic's new config a moment after the change is acknowledged.
        await producer.send({ topic, acks: -1, messages: [{ key, value }] });
        return true;
      }, { timeoutMs: 15_000, what: 'the broker to take a 2.5 MiB record on the raised topic' });
      const good = payment(userId, `after-huge-${randomUUID()}`);
      await producer.send({ topic, messages: [{ key, value: JSON.stringify(good) }] });

      const [order] = await ordersArriving(userId, 'the order of the payment behind the huge record');
      expect(order.payment_id).toBe(good.payment_id);

      const letters = await dlq.waitFor((l) => l.original_key === key, 2, 'the huge record dead-lettered by order and analytics');
      expect(letters.map((l) => l.group).sort()).toEqual([CONSUMER_GROUPS.analytics, CONSUMER_GROUPS.order]);
      for (const letter of letters) {
        expect(letter).toMatchObject({ truncated: true, original_encoding: 'base64', original_bytes: value.length, retriable: false });
        expect(letter.original_sha256).toBe(createHash('sha256').update(value).digest('hex'));
        // What it keeps is the original's beginning, as much as fits: the letter, in bytes, is just under its limit.
        const kept = originalBytes(letter)!;
        expect(kept.length).toBeGreaterThan(DEAD_LETTER_MAX_BYTES / 2);
        expect(kept.equals(value.subarray(0, kept.length))).toBe(true);
        const letterBytes = Buffer.byteLength(JSON.stringify(letter)) + Buffer.byteLength(key);
        expect(letterBytes).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
        expect(letterBytes).toBeGreaterThan(DEAD_LETTER_MAX_BYTES - 8);
      }
      for (const instance of await orderInstances()) expect(instance.running).toBe(true);
    } finally {
      await setOverrides(overrides);
    }
  });
});
