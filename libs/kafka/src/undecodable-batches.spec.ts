import { gzipSync } from 'node:zlib';
import { describeUndecodableBatch, guardRecordBatchDecoder, undecodableBatchOf } from './undecodable-batches';

// kafkajs' own encoder and fetch decoder: the guard is tested against the code that fetches in production.
/* eslint-disable @typescript-eslint/no-require-imports */
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (batch: object) => Promise<{ buffer: Buffer }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (record: object) => object;
const Encoder = require('kafkajs/src/protocol/encoder') as new () => { writeInt32(n: number): unknown; writeBuffer(b: Buffer): unknown; buffer: Buffer };
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => object;
const Batch = require('kafkajs/src/consumer/batch') as new (topic: string, fetchedOffset: string, data: object) => { messages: Array<{ offset: string }>; lastOffset(): string };
const GZIP = 1;

type DecodeMessages = (decoder: object) => Promise<Array<{ offset: string; value: Buffer | null }>>;
const BATCH_DECODER = 'kafkajs/src/protocol/recordBatch/v0/decoder';

/**
 * kafkajs' decoder of a partition's records in a fetch response, which binds the batch decoder as it loads;
 * guarded, it binds the guard instead (in the services, installUndecodableBatchGuard does this through Node's
 * module cache, which jest's registry does not share: the end-to-end suite tests that part).
 */
function decodeMessages(guarded: boolean): DecodeMessages {
  let decode: DecodeMessages | undefined;
  jest.isolateModules(() => {
    if (guarded) jest.doMock(BATCH_DECODER, () => guardRecordBatchDecoder(jest.requireActual(BATCH_DECODER)));
    decode = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages');
  });
  return decode!;
}

async function batch(firstOffset: number, values: string[], compression = 0): Promise<Buffer> {
  const records = values.map((value, offsetDelta) => Record({ offsetDelta, key: Buffer.from('7'), value: Buffer.from(value) }));
  const encoded = await RecordBatch({ firstOffset: String(firstOffset), lastOffsetDelta: values.length - 1, compression, records });
  return encoded.buffer;
}

/** A gzip batch whose compressed records end with the start of a broken second member. */
async function brokenGzipBatch(firstOffset: number, values: string[]): Promise<Buffer> {
  const good = await batch(firstOffset, values, GZIP);
  const member = gzipSync(Buffer.alloc(0)).subarray(0, 4);
  const broken = Buffer.concat([good, member]);
  broken.writeInt32BE(good.readInt32BE(8) + member.length, 8);
  return broken;
}

/** What a fetch response carries for one partition: the size of its record set, then the batches. */
function recordSet(...batches: Buffer[]): object {
  const all = Buffer.concat(batches);
  const encoder = new Encoder();
  encoder.writeInt32(all.length);
  encoder.writeBuffer(all);
  return new Decoder(encoder.buffer);
}

describe('a record batch kafkajs cannot decode', () => {
  it('fails the whole fetch response without the guard (this is what the guard is for)', async () => {
    const set = recordSet(await batch(0, ['a']), await brokenGzipBatch(1, ['b', 'c']));
    await expect(decodeMessages(false)(set)).rejects.toThrow(/unexpected end of file/);
  });

  describe('with the guard', () => {
    it('becomes one marked stand-in at its last offset holding its bytes, and the batches around it decode as usual', async () => {
      const broken = await brokenGzipBatch(2, ['c', 'd', 'e']);
      const records = await decodeMessages(true)(recordSet(await batch(0, ['a', 'b']), broken, await batch(5, ['f'])));

      expect(records.map((r) => r.offset)).toEqual(['0', '1', '4', '5']);
      expect(records.map((r) => undecodableBatchOf(r) !== undefined)).toEqual([false, false, true, false]);
      const standIn = records[2];
      expect(standIn.value!.equals(broken)).toBe(true);
      const undecodable = undecodableBatchOf(standIn)!;
      expect(undecodable).toMatchObject({ firstOffset: '2', lastOffset: '4', records: 3, codec: GZIP });
      expect(describeUndecodableBatch(undecodable)).toMatch(/offsets 2\.\.4 \(3 record\(s\), compression gzip\)/);
    });

    it('lets the consumer move past the whole batch: its last offset is the batch\'s', async () => {
      const records = await decodeMessages(true)(recordSet(await brokenGzipBatch(10, ['a', 'b', 'c', 'd'])));
      const fetched = new Batch('payment-successful', '10', { partition: 0, highWatermark: '14', messages: records, abortedTransactions: [] });
      expect(fetched.messages.map((m) => m.offset)).toEqual(['13']);
      expect(fetched.lastOffset()).toBe('13');
    });

    it('still stops at a partial batch at the end of a response, as kafkajs does', async () => {
      const whole = await batch(0, ['a']);
      const partial = (await batch(1, ['b'])).subarray(0, 40);
      const records = await decodeMessages(true)(recordSet(whole, Buffer.concat([partial, Buffer.alloc(20)])));
      expect(records.map((r) => r.offset)).toEqual(['0']);
    });
  });
});
