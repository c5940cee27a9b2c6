/** What a dead-letter topic holds: the poison message verbatim and where it came from. */
export interface DeadLetterRecord {
  /** The original value as text, byte for byte when it was UTF-8; null for a tombstone. */
  original_message: string | null;
  /** True when original_message or error was cut to fit a record the broker accepts. */
  truncated: boolean;
  /** The original key, so a replay lands on the same partition. */
  original_key: string | null;
  error: string;
  /** ISO 8601 time the message was dead-lettered. */
  timestamp: string;
  topic: string;
  partition: number;
  offset: string;
  group: string;
  instance_id: string;
}
