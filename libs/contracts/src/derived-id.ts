import { createHash } from 'node:crypto';

/** The project's namespace for name-based UUIDs (RFC 9562, version 5): any fixed UUID will do, this one is ours. */
const NAMESPACE = Buffer.from('3b0d6f52c1e44f0f9a8e5d2c7b1a9e60', 'hex');

/**
 * A UUID that is the same every time for the same name, and different for any other: the id of an event that
 * carries none (or none that is unique), derived from the record that brought it, so a redelivery of the record
 * maps to the same id and any other record to another.
 */
export function derivedUuid(name: string, namespace: Buffer = NAMESPACE): string {
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest().subarray(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8] & 0x3f) | 0x80; // RFC variant
  const hex = hash.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** When the record was written (its Kafka timestamp, epoch milliseconds as a string), as ISO 8601. */
export function writtenAt(timestamp: string): string {
  const ms = Number(timestamp);
  return new Date(Number.isFinite(ms) && ms >= 0 ? ms : 0).toISOString();
}
