/**
 * A record that can never be handled as it is: its own fault, not the infrastructure's (it cannot be decoded,
 * it breaks its contract, the database rejects its data). Code that finds a record bad throws a subclass of
 * this; the consumers dead-letter it at once. Every other error is retried.
 */
export class RecordFault extends Error {
  override name = 'RecordFault';
  /** Which kind of fault, for the dead-letter metric's `reason` label: a few fixed words, one per subclass. */
  readonly reason: string = 'record_fault';
}

/**
 * Reading the record (its bytes, JSON, its contract's classes) failed in a way no check foresaw: a RangeError, a
 * TypeError. Still the record's fault: the same bytes would fail the same way on every attempt.
 */
export class UnreadableRecord extends RecordFault {
  override name = 'UnreadableRecord';
  override readonly reason = 'unreadable';
}
