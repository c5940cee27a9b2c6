import { createRequire } from 'node:module';

/**
 * A record batch that kafkajs cannot decode (its compressed payload is corrupt, or a codec library fails on it)
 * makes kafkajs fail the whole fetch response: every partition fetched from that broker stops, the consumer
 * crashes, restarts, fetches the same batch, and crashes again, before any handler or interceptor sees it.
 *
 * The guard wraps kafkajs' record batch decoder. A batch it cannot decode becomes one stand-in record at the
 * batch's last offset, holding the batch's bytes exactly as fetched and marked with what went wrong. The
 * consumer then moves past the batch like any other, and the stand-in goes through the handler's pipeline,
 * where `@KafkaEvent` refuses it as a record at fault: it is dead-lettered with the batch inside. Nothing of the
 * batch is lost, and the other partitions never stop.
 *
 * kafkajs (2.2.4, no longer maintained) has no hook for this, so the guard replaces the decoder module its
 * fetch responses load; kafkaClientConfig installs it with the codecs.
 */

/** What a stand-in record says about the batch it replaces. */
export interface UndecodableBatch {
  firstOffset: string;
  lastOffset: string;
  /** Records the batch header announces. */
  records: number;
  /** Kafka's codec id (attributes & 7): 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  codec: number;
  error: string;
}

const UNDECODABLE = Symbol('undecodable record batch');

/** The batch a stand-in record replaces, or undefined for a record decoded as usual. */
export function undecodableBatchOf(message: object): UndecodableBatch | undefined {
  return (message as { [UNDECODABLE]?: UndecodableBatch })[UNDECODABLE];
}

/** Carries the mark over to a copy of a stand-in record (the server's parser copies each message). */
export function copyUndecodableMark<T extends object>(from: object, to: T): T {
  const batch = undecodableBatchOf(from);
  if (batch) Object.defineProperty(to, UNDECODABLE, { value: batch, enumerable: false });
  return to;
}

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

const UNDECODABLE_REASON = 'the client could not decode the record batch';

export function describeUndecodableBatch(batch: UndecodableBatch): string {
  const codec = CODEC_NAMES[batch.codec] ?? `unknown codec ${batch.codec}`;
  return (
    `${UNDECODABLE_REASON} at offsets ${batch.firstOffset}..${batch.lastOffset} ` +
    `(${batch.records} record(s), compression ${codec}): ${batch.error}; the batch's bytes are kept as fetched`
  );
}

/** Whether a dead letter's error says it holds a whole batch the client could not decode (see describeUndecodableBatch). */
export function holdsUndecodableBatch(error: string): boolean {
  return error.includes(UNDECODABLE_REASON);
}

/** Byte offsets inside a record batch (magic 2), from its start. */
const HEADER = { length: 8, magic: 16, attributes: 21, lastOffsetDelta: 23, firstTimestamp: 27, maxTimestamp: 35, producerId: 43, producerEpoch: 51, records: 57 };
const LOG_OVERHEAD = 12; // firstOffset int64 and length int32, before what `length` counts
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

interface FetchDecoder {
  buffer: Buffer;
  offset: number;
}
type RecordBatchDecoder = (decoder: FetchDecoder) => Promise<unknown>;

/** kafkajs' batch decoder, and a stand-in record for each batch it fails on. */
export function guardRecordBatchDecoder(decode: RecordBatchDecoder): RecordBatchDecoder {
  return async (decoder) => {
    const start = decoder.offset;
    try {
      return await decode(decoder);
    } catch (error) {
      // The tail of a fetch response may hold the start of a batch: kafkajs stops there, as it should.
      if ((error as Error).name === 'KafkaJSPartialMessageError') throw error;
      const length = decoder.buffer.readInt32BE(start + HEADER.length);
      const raw = decoder.buffer.subarray(start, start + LOG_OVERHEAD + length);
      if (raw.length < HEADER.records + 4) throw error;
      decoder.offset = start + raw.length;
      return standIn(raw, error);
    }
  };
}

function standIn(raw: Buffer, error: unknown): object {
  const firstOffset = raw.readBigInt64BE(0);
  const attributes = raw.readInt16BE(HEADER.attributes);
  const lastOffset = (firstOffset + BigInt(raw.readInt32BE(HEADER.lastOffsetDelta))).toString();
  const batchContext = {
    firstOffset: firstOffset.toString(),
    firstTimestamp: raw.readBigInt64BE(HEADER.firstTimestamp).toString(),
    maxTimestamp: raw.readBigInt64BE(HEADER.maxTimestamp).toString(),
    partitionLeaderEpoch: raw.readInt32BE(LOG_OVERHEAD),
    inTransaction: (attributes & TRANSACTIONAL) !== 0,
    isControlBatch: (attributes & CONTROL) !== 0,
    lastOffsetDelta: raw.readInt32BE(HEADER.lastOffsetDelta),
    producerId: raw.readBigInt64BE(HEADER.producerId).toString(),
    producerEpoch: raw.readInt16BE(HEADER.producerEpoch),
    firstSequence: 0,
    timestampType: 0,
  };
  const record = {
    magicByte: raw.readInt8(HEADER.magic),
    attributes: 0,
    timestamp: batchContext.maxTimestamp,
    offset: lastOffset,
    key: null,
    value: Buffer.from(raw),
    headers: {},
    // A control batch (a transaction marker) carries no data for handlers: kafkajs skips it, and so the stand-in.
    isControlRecord: batchContext.isControlBatch,
    batchContext,
  };
  const batch: UndecodableBatch = {
    firstOffset: batchContext.firstOffset,
    lastOffset,
    records: raw.readInt32BE(HEADER.records),
    codec: attributes & 0x07,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  };
  Object.defineProperty(record, UNDECODABLE, { value: batch, enumerable: false });
  return { ...batchContext, records: [record] };
}

let installed = false;

/** Puts the guard in place of kafkajs' record batch decoder; a no-op after the first call. */
export function installUndecodableBatchGuard(): void {
  if (installed) return;
  // Node's own require and module cache (in a webpack bundle, `require` is webpack's), where kafkajs loads.
  const nodeRequire = createRequire(__filename);
  const decoderPath = nodeRequire.resolve('kafkajs/src/protocol/recordBatch/v0/decoder');
  nodeRequire(decoderPath);
  const module = nodeRequire.cache[decoderPath]!;
  module.exports = guardRecordBatchDecoder(module.exports as RecordBatchDecoder);
  // The fetch response decoders bind the batch decoder as they load. kafkajs requires them afresh for every
  // fetch, so any already loaded are dropped from the cache and load again with the guard.
  const fetchRequests = nodeRequire.resolve('kafkajs/src/protocol/requests/fetch/index.js').replace(/index\.js$/, '');
  for (const path of Object.keys(nodeRequire.cache)) {
    if (path.startsWith(fetchRequests) && /(response|decodeMessages)\.js$/.test(path)) delete nodeRequire.cache[path];
  }
  installed = true;
}
