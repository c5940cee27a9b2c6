import { PartitionRetries } from './partition-retries';

export type ConsumerStatus = 'starting' | 'joined' | 'rebalancing' | 'crashed' | 'stopped';

/** What the health check, the dead-letter interceptor and the logs know of this instance's consumer. */
export class ConsumerState {
  status: ConsumerStatus = 'starting';
  assignments: Record<string, number[]> = {};
  lastError: string | null = null;
  /** True while the application is closing on purpose, so a stop is not reported as a failure. */
  closing = false;

  /** The partitions held at a record that is being retried, and since when. */
  constructor(readonly retries: PartitionRetries) {}
}
