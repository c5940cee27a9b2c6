/**
 * The finished records beyond a partition's committed offset, written in the offset commit's metadata (as
 * Confluent's Parallel Consumer does): exactly once, a transaction may then carry the events of records that
 * finished out of order, since the offsets it marks consumed include theirs; a new owner reads the metadata
 * back and skips those records instead of handling them again.
 *
 * The text is `pc1:` and a bitmap in base64url: bit i (least significant first within each byte) says the
 * record at `committed + 1 + i` is done. The broker caps metadata at `offset.metadata.max.bytes` (4,096 by
 * default), so a bitmap covers at most MAX_SPAN offsets past the committed one: records further on wait for
 * the committed offset to come nearer.
 */
const PREFIX = 'pc1:';
/** Bits of the bitmap at most: 3,000 bytes, 4,000 characters of base64 with the prefix, under 4,096. */
export const MAX_SPAN = 24_000;

/** The metadata saying the offsets `done` (each past `committed`, within MAX_SPAN of it) are finished; '' for none. */
export function encodeFinished(committed: bigint, done: readonly bigint[]): string {
  if (done.length === 0) return '';
  let highest = 0;
  for (const offset of done) highest = Math.max(highest, Number(offset - committed - 1n));
  if (highest >= MAX_SPAN) throw new RangeError(`offset ${committed + 1n + BigInt(highest)} lies more than ${MAX_SPAN} past ${committed}`);
  const bitmap = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const offset of done) {
    const bit = Number(offset - committed - 1n);
    if (bit < 0) throw new RangeError(`offset ${offset} is not past ${committed}`);
    bitmap[bit >> 3] |= 1 << (bit & 7);
  }
  return PREFIX + bitmap.toString('base64url');
}

/** The finished offsets past `committed` that `metadata` names; none when it is empty, or not ours. */
export function decodeFinished(committed: bigint, metadata: string | null | undefined): Set<bigint> {
  const finished = new Set<bigint>();
  if (!metadata?.startsWith(PREFIX)) return finished;
  const bitmap = Buffer.from(metadata.slice(PREFIX.length), 'base64url');
  for (let byte = 0; byte < bitmap.length && byte * 8 < MAX_SPAN; byte++) {
    for (let bit = 0; bit < 8; bit++) if (bitmap[byte] & (1 << bit)) finished.add(committed + 1n + BigInt(byte * 8 + bit));
  }
  return finished;
}
