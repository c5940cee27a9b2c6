import type { KafkaMessage } from 'kafkajs';
import { REQUEST_ID_HEADER, withCorrelation } from '@app/platform';
import { headerOf } from '../kafka-event';
import type { StagedEvents } from './partition-transactions';
import { RecordScope, runInRecordScope } from './record-scope';

/** What became of one run of a record. */
export type RecordOutcome =
  /** Handled; `staged` is what it published, exactly once (empty otherwise). */
  | { kind: 'done'; staged: StagedEvents[] }
  /** At fault, or out of retries: the dead-letter interceptor parked it in its DLQ topic. */
  | { kind: 'dead-lettered'; staged: StagedEvents[] }
  /** Failed, not by its own fault: it is tried again after a backoff. */
  | { kind: 'failed'; error: unknown };

/** Where a record came from, as Nest's Kafka context gives it to handlers. */
export interface RecordPlace {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** Nest's handling of one record: pipes, interceptors (the dead-letter one), the `@EventPattern` handler. */
export type HandleMessage = (place: RecordPlace) => Promise<unknown>;

/**
 * Runs one record through Nest's pipeline, as Nest's own server would, inside a RecordScope (which the
 * dead-letter interceptor and the publisher speak to) and with the record's place and request id on every log
 * line; and says what became of it. It never throws: whatever fails is an outcome.
 */
export class RecordRunner {
  constructor(
    private readonly handle: HandleMessage,
    private readonly transactional: boolean,
  ) {}

  async run(place: RecordPlace): Promise<RecordOutcome> {
    const { topic, partition, message } = place;
    const scope = new RecordScope(this.transactional);
    const correlation = { source: 'kafka' as const, request_id: headerOf(message.headers, REQUEST_ID_HEADER), topic, partition, offset: message.offset };
    try {
      await withCorrelation(correlation, () => runInRecordScope(scope, () => this.handle(place)));
    } catch (error) {
      return { kind: 'failed', error };
    }
    if (scope.failure) return { kind: 'failed', error: scope.failure.error };
    return { kind: scope.deadLettered ? 'dead-lettered' : 'done', staged: scope.staged };
  }
}
