/** How bytes are written as text in a dead letter: as they are when they are UTF-8 text, otherwise base64. */
export type ByteEncoding = 'utf8' | 'base64';

export interface DeadLetterHeader {
  key: string;
  /** Null for a header without a value. */
  value: string | null;
  encoding: ByteEncoding;
}

/** What a dead-letter topic holds: the record that failed, kept exactly, and where and why it failed. */
export interface DeadLetterRecord {
  /** The original value, byte for byte, in `original_encoding`; null for a tombstone. */
  original_message: string | null;
  original_encoding: ByteEncoding;
  /** Size of the original value in bytes. */
  original_bytes: number;
  /**
   * True when the original (or the error, the key or the headers) was cut so that the letter fits the DLQ
   * topic's record limit: original_message then holds its first bytes, and original_sha256 the whole's hash.
   */
  truncated: boolean;
  original_sha256?: string;
  /** The original key, so a replay lands on the same partition. */
  original_key: string | null;
  original_key_encoding: ByteEncoding;
  original_headers: DeadLetterHeader[];
  error: string;
  /**
   * False when the record itself is bad (replaying it as it is fails again); true when it is good but an
   * outage outlasted the retry bound (RETRY_MAX_MS), so a replay should take it.
   */
  retriable: boolean;
  /** ISO 8601 time the record was dead-lettered. */
  timestamp: string;
  topic: string;
  partition: number;
  offset: string;
  group: string;
  instance_id: string;
}
