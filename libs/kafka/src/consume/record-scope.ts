import { AsyncLocalStorage } from 'node:async_hooks';
import type { OutgoingEvent } from '../event-publisher';

/**
 * The consume loop's side of one record while Nest's pipeline handles it: the failure the dead-letter
 * interceptor decided to retry (Nest's exception filter would replace the error with a bare
 * `{ status: 'error' }` and log it at length, so the interceptor hands it over here instead), whether the
 * record was dead-lettered, and, in a transaction, the events the handler published, which leave with the
 * record's offset or not at all.
 */
export class RecordScope {
  failure?: { error: unknown };
  deadLettered = false;
  /** Events staged for the transaction, in the order the handler published them. */
  readonly staged: Array<{ topic: string; events: OutgoingEvent[] }> = [];

  /** Whether published events are staged for the loop's transaction instead of sent at once. */
  constructor(readonly transactional: boolean) {}
}

const storage = new AsyncLocalStorage<RecordScope>();

export function runInRecordScope<T>(scope: RecordScope, work: () => Promise<T>): Promise<T> {
  return storage.run(scope, work);
}

/** The record being handled by the code that calls this, if it runs inside the consume loop. */
export function currentRecordScope(): RecordScope | undefined {
  return storage.getStore();
}
