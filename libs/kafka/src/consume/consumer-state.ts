import { PartitionRetries } from './partition-retries';

export type ConsumerStatus = 'starting' | 'joined' | 'rebalancing' | 'crashed' | 'stopped';

/** What the health check, the dead-letter interceptor and the logs know of this instance's consumer. */
export class ConsumerState {
  status: ConsumerStatus = 'starting';
  assignments: Record<string, number[]> = {};
  lastError: string | null = null;
  /** True while the application is closing on purpose, so a stop is not reported as a failure. */
  closing = false;
  /**
   * When the consumer last showed it is working (a fetch, a heartbeat, a join, a crash kafkajs restarts from, a
   * restart attempt of the service's own). Even idle or waiting out an outage it shows one every few seconds.
   */
  private lastSign = Date.now();

  /** The partitions held at a record that is being retried, and since when. */
  constructor(readonly retries: PartitionRetries) {}

  sign(now = Date.now()): void {
    this.lastSign = now;
  }

  /** How long the consumer has shown no sign of working; 0 while the application closes on purpose. */
  silentFor(now = Date.now()): number {
    return this.closing ? 0 : Math.max(0, now - this.lastSign);
  }
}
