import fc from 'fast-check';
import { decodeFinished, encodeFinished, MAX_SPAN } from './offset-metadata';

const sorted = (offsets: Iterable<bigint>) => [...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('offset metadata', () => {
  it('decodes to the offsets it encoded, for any set within the span', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -1n, max: 2n ** 62n }),
        fc.uniqueArray(fc.integer({ min: 0, max: MAX_SPAN - 1 }), { maxLength: 300 }),
        (committed, bits) => {
          const done = bits.map((bit) => committed + 1n + BigInt(bit));
          const metadata = encodeFinished(committed, done);
          expect(sorted(decodeFinished(committed, metadata))).toEqual(sorted(done));
          if (done.length > 0) expect(metadata).toMatch(/^pc1:[A-Za-z0-9_-]+$/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodes no finished offsets as the empty text', () => {
    expect(encodeFinished(10n, [])).toBe('');
    expect(decodeFinished(10n, encodeFinished(10n, []))).toEqual(new Set());
  });

  it('names offsets relative to the committed one', () => {
    expect(encodeFinished(10n, [11n, 13n])).toBe('pc1:BQ');
    expect(decodeFinished(10n, 'pc1:BQ')).toEqual(new Set([11n, 13n]));
    expect(decodeFinished(20n, 'pc1:BQ')).toEqual(new Set([21n, 23n]));
  });

  it('stays under the broker’s 4,096 bytes of metadata with every offset of the span finished', () => {
    const all = Array.from({ length: MAX_SPAN }, (_, i) => 1000n + 1n + BigInt(i));
    const metadata = encodeFinished(1000n, all);
    expect(Buffer.byteLength(metadata, 'utf8')).toBeLessThan(4096);
    expect(decodeFinished(1000n, metadata).size).toBe(MAX_SPAN);
    // The last offset of the span alone needs as many bytes.
    const last = encodeFinished(1000n, [1000n + BigInt(MAX_SPAN)]);
    expect(Buffer.byteLength(last, 'utf8')).toBeLessThan(4096);
    expect(decodeFinished(1000n, last)).toEqual(new Set([1000n + BigInt(MAX_SPAN)]));
  });

  it('refuses an offset past the span', () => {
    expect(() => encodeFinished(0n, [BigInt(MAX_SPAN) + 1n])).toThrow(RangeError);
    expect(() => encodeFinished(5n, [6n, 5n + BigInt(MAX_SPAN) + 7n])).toThrow(RangeError);
  });

  it('refuses an offset not past the committed one', () => {
    expect(() => encodeFinished(10n, [10n])).toThrow(RangeError);
    expect(() => encodeFinished(10n, [9n])).toThrow(RangeError);
    expect(() => encodeFinished(10n, [12n, 4n])).toThrow(RangeError);
  });

  it('decodes empty, absent or foreign metadata to nothing', () => {
    for (const metadata of ['', null, undefined, 'hello', 'pc2:BQ', 'PC1:BQ', ' pc1:BQ', '{"offsets":[11]}']) {
      expect(decodeFinished(10n, metadata)).toEqual(new Set());
    }
    expect(decodeFinished(10n, 'pc1:')).toEqual(new Set());
  });
});
