export interface OutgoingEvent<T extends object = object> {
  /** Partition key: the user id, so one customer's events stay in order. */
  key: string;
  value: T;
  headers?: Record<string, string>;
}

/**
 * Publishing, as the services see it. Resolves once the broker has acknowledged (acks=all) and rejects
 * otherwise; nothing is left queued behind a rejection. Called while a consumed record is handled in a
 * transaction, it resolves once the event is staged: the event is written with the record's offset, or not
 * at all, and the record is handled again.
 */
export abstract class EventPublisher {
  abstract publish<T extends object>(topic: string, event: OutgoingEvent<T>): Promise<void>;
  /** One produce request for many events of one topic. */
  abstract publishBatch<T extends object>(topic: string, events: OutgoingEvent<T>[]): Promise<void>;
}
