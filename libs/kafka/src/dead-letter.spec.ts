import { createHash, randomBytes } from 'node:crypto';
import { buildDeadLetter, DEAD_LETTER_MAX_BYTES, originalBytes, type FailedRecord } from './dead-letter';

const origin = { error: 'PoisonMessageError: not JSON', retriable: false, group: 'order-service-group', instanceId: '2', now: new Date(0) };
const failed = (value: FailedRecord['value'], extra: Partial<FailedRecord> = {}): FailedRecord => ({
  key: '42',
  value,
  topic: 'payment-successful',
  partition: 1,
  offset: '17',
  ...extra,
});
/** The letter as it goes on the wire: its JSON value and its key. */
const wireBytes = (letter: ReturnType<typeof buildDeadLetter>) => Buffer.byteLength(JSON.stringify(letter.record)) + Buffer.byteLength(letter.key);

describe('buildDeadLetter', () => {
  it('keeps a UTF-8 original as text, with where it came from and why', () => {
    const letter = buildDeadLetter(failed(Buffer.from('{"user_id": "bad", "name": "Samsung TV 65\\" – ok"}')), origin);
    expect(letter.key).toBe('42');
    expect(letter.record).toEqual({
      original_message: '{"user_id": "bad", "name": "Samsung TV 65\\" – ok"}',
      original_encoding: 'utf8',
      original_bytes: 52,
      truncated: false,
      original_key: '42',
      original_key_encoding: 'utf8',
      original_headers: [],
      error: 'PoisonMessageError: not JSON',
      retriable: false,
      timestamp: '1970-01-01T00:00:00.000Z',
      topic: 'payment-successful',
      partition: 1,
      offset: '17',
      group: 'order-service-group',
      instance_id: '2',
    });
  });

  it('keeps bytes that are not UTF-8 byte for byte, in base64, and so the key and the headers', () => {
    const value = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    const key = Buffer.from([0xc3, 0x28]);
    const letter = buildDeadLetter(failed(value, { key, headers: { trace: 'abc', blob: Buffer.from([0xff]), many: ['a', 'b'] } }), origin);
    expect(letter.record.original_encoding).toBe('base64');
    expect(originalBytes(letter.record)).toEqual(value);
    expect(letter.record.original_bytes).toBe(5);
    expect(letter.record.original_key_encoding).toBe('base64');
    expect(Buffer.from(letter.record.original_key!, 'base64')).toEqual(key);
    expect(letter.record.original_headers).toEqual([
      { key: 'trace', value: 'abc', encoding: 'utf8' },
      { key: 'blob', value: '/w==', encoding: 'base64' },
      { key: 'many', value: 'a', encoding: 'utf8' },
      { key: 'many', value: 'b', encoding: 'utf8' },
    ]);
  });

  it('writes valid UTF-8 made of control bytes as base64, which is smaller than JSON escapes', () => {
    const value = Buffer.alloc(1000, 0x01);
    const letter = buildDeadLetter(failed(value), origin);
    expect(letter.record.original_encoding).toBe('base64');
    expect(originalBytes(letter.record)).toEqual(value);
  });

  it('keeps a tombstone as null', () => {
    const letter = buildDeadLetter(failed(null, { key: null }), origin);
    expect(letter.record).toMatchObject({ original_message: null, original_bytes: 0, original_key: null, truncated: false });
    expect(letter.key).toBe('payment-successful:1');
  });

  it('keeps a record as large as the broker allows (1 MB of control bytes) whole, within the limit', () => {
    const value = Buffer.alloc(1024 * 1024, 0x07);
    const letter = buildDeadLetter(failed(value), origin);
    expect(letter.record.truncated).toBe(false);
    // Buffer#equals: jest's deep equality takes seconds over a megabyte.
    expect(originalBytes(letter.record)!.equals(value)).toBe(true);
    expect(wireBytes(letter)).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
  });

  it('cuts what does not fit, counting bytes, and says so with the whole original hash', () => {
    const value = randomBytes(3 * 1024 * 1024);
    const letter = buildDeadLetter(failed(value), { ...origin, error: 'é'.repeat(100_000) });
    expect(wireBytes(letter)).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
    expect(wireBytes(letter)).toBeGreaterThan(DEAD_LETTER_MAX_BYTES - 4096);
    expect(letter.record.truncated).toBe(true);
    expect(letter.record.original_bytes).toBe(value.length);
    expect(letter.record.original_sha256).toBe(createHash('sha256').update(value).digest('hex'));
    const kept = originalBytes(letter.record)!;
    expect(kept.length).toBeGreaterThan(1024 * 1024);
    expect(kept.equals(value.subarray(0, kept.length))).toBe(true);
    expect(letter.record.error).toHaveLength(16 * 1024);
  });

  it('fits a small limit too, with multi-byte text', () => {
    const letter = buildDeadLetter(failed(Buffer.from('ü'.repeat(10_000))), origin, 4096);
    expect(wireBytes(letter)).toBeLessThanOrEqual(4096);
    expect(letter.record.truncated).toBe(true);
  });
});
