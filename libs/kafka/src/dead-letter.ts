import { createHash } from 'node:crypto';
import type { IHeaders } from 'kafkajs';
import type { ByteEncoding, DeadLetterHeader, DeadLetterRecord } from '@app/contracts';

/**
 * The largest record a DLQ topic accepts (its `max.message.bytes`, set when the topics are created): twice the
 * broker's default, so that a record as large as the source topic allows survives base64 whole.
 */
export const DLQ_MAX_MESSAGE_BYTES = 2 * 1024 * 1024 + 64 * 1024;
/** What a letter may weigh, key and headers included: the limit less room for the record's own framing. */
export const DEAD_LETTER_MAX_BYTES = 2 * 1024 * 1024;
/** Bounds on the parts other than the original, so that these can never crowd it out. */
const MAX_ERROR_CHARS = 16 * 1024;
const MAX_KEY_BYTES = 16 * 1024;
const MAX_HEADERS_BYTES = 64 * 1024;

export interface FailedRecord {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: IHeaders;
  topic: string;
  partition: number;
  offset: string;
}

export interface DeadLetterOrigin {
  error: string;
  retriable: boolean;
  group: string;
  instanceId: string;
  now?: Date;
}

export interface DeadLetter {
  /** The letter's Kafka key: the original key's text, so letters of one key stay together. */
  key: string;
  record: DeadLetterRecord;
}

/**
 * Builds the dead letter of a record: its value, key and headers kept exactly (as text when they are UTF-8
 * and that is not larger than base64, as base64 otherwise: JSON writes a control byte as six), sized in
 * bytes after JSON encoding so that the letter always fits `maxBytes`. Only what would not fit is cut, and the
 * letter says so.
 */
export function buildDeadLetter(failed: FailedRecord, origin: DeadLetterOrigin, maxBytes = DEAD_LETTER_MAX_BYTES): DeadLetter {
  const value = toBuffer(failed.value);
  let truncated = origin.error.length > MAX_ERROR_CHARS;
  const keyBytes = toBuffer(failed.key);
  const key = keyBytes === null || keyBytes.length <= MAX_KEY_BYTES ? encode(keyBytes) : ((truncated = true), encode(keyBytes.subarray(0, MAX_KEY_BYTES), 'base64'));
  let headers = encodeHeaders(failed.headers);
  if (jsonBytes(headers) > MAX_HEADERS_BYTES) {
    headers = [];
    truncated = true;
  }
  const original = encode(value);
  const record: DeadLetterRecord = {
    original_message: original.text,
    original_encoding: original.encoding,
    original_bytes: value?.length ?? 0,
    truncated,
    original_key: key.text,
    original_key_encoding: key.encoding,
    original_headers: headers,
    error: origin.error.slice(0, MAX_ERROR_CHARS),
    retriable: origin.retriable,
    timestamp: (origin.now ?? new Date()).toISOString(),
    topic: failed.topic,
    partition: failed.partition,
    offset: failed.offset,
    group: origin.group,
    instance_id: origin.instanceId,
  };
  const letterKey = key.text ?? `${failed.topic}:${failed.partition}`;
  const size = () => jsonBytes(record) + Buffer.byteLength(letterKey);
  if (value !== null && size() > maxBytes) {
    // Keep as many leading bytes as fit, in base64, whose size is exact to compute.
    record.truncated = true;
    record.original_sha256 = createHash('sha256').update(value).digest('hex');
    record.original_encoding = 'base64';
    record.original_message = '';
    const room = maxBytes - size();
    record.original_message = value.subarray(0, Math.max(0, Math.floor(room / 4) * 3)).toString('base64');
  }
  return { key: letterKey, record };
}

/** The original value of a dead letter, as the bytes it was. */
export function originalBytes(record: Pick<DeadLetterRecord, 'original_message' | 'original_encoding'>): Buffer | null {
  return record.original_message === null ? null : Buffer.from(record.original_message, record.original_encoding);
}

/** Bytes, text as UTF-8, and nothing for anything else: building a letter must never throw, or the record stalls. */
function toBuffer(bytes: unknown): Buffer | null {
  if (Buffer.isBuffer(bytes)) return bytes;
  return typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : null;
}

function encode(bytes: Buffer | null, force?: ByteEncoding): { text: string | null; encoding: ByteEncoding } {
  if (bytes === null) return { text: null, encoding: 'utf8' };
  if (force !== 'base64') {
    const text = bytes.toString('utf8');
    // Decoding replaces invalid sequences, so a round trip that gives the same bytes back proves it was UTF-8.
    const isUtf8 = Buffer.byteLength(text) === bytes.length && Buffer.from(text, 'utf8').equals(bytes);
    if (isUtf8 && Buffer.byteLength(JSON.stringify(text)) <= Math.ceil(bytes.length / 3) * 4 + 2) return { text, encoding: 'utf8' };
  }
  return { text: bytes.toString('base64'), encoding: 'base64' };
}

function encodeHeaders(headers: IHeaders | undefined): DeadLetterHeader[] {
  if (!headers) return [];
  return Object.entries(headers).flatMap(([key, value]) => {
    const values = Array.isArray(value) ? value : [value];
    return values.map((one) => {
      const { text, encoding } = encode(toBuffer(one));
      return { key, value: text, encoding };
    });
  });
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}
