import { RecordFault } from '@app/contracts';

/** A record whose bytes cannot be read as an event at all (not JSON, a tombstone, an unknown encoding). */
export class PoisonMessageError extends RecordFault {
  override name = 'PoisonMessageError';
  override readonly reason = 'undecodable';
}

export const isRecordFault = (error: unknown): error is RecordFault => error instanceof RecordFault;

/** What becomes of a record whose handler failed. */
export type Verdict =
  /** Wait, then handle it again: the infrastructure (database, broker, mail server) or a bug is at fault. */
  | { action: 'retry' }
  /**
   * Park it in its DLQ topic and go on. `retriable`: the record is good but an outage outlasted the retry bound,
   * so a later replay should take it.
   */
  | { action: 'dead-letter'; retriable: boolean };

/**
 * The one place that decides what happens to a failing record. Only a record at fault (RecordFault: it cannot
 * be decoded, breaks its contract, or the database rejects its data) goes to its DLQ at once. Everything else
 * is retried, holding its key, with backoff, for up to `retryMaxMs` since the record first failed; past
 * that it is dead-lettered as retriable, so one stuck record cannot hold its partition forever.
 */
export class FailurePolicy {
  constructor(readonly retryMaxMs: number) {}

  decide(error: unknown, failingSince: number | undefined, now = Date.now()): Verdict {
    if (isRecordFault(error)) return { action: 'dead-letter', retriable: false };
    if (failingSince !== undefined && now - failingSince >= this.retryMaxMs) return { action: 'dead-letter', retriable: true };
    return { action: 'retry' };
  }
}
