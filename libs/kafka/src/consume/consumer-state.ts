import { RecordRetries } from './record-retries';

/** What the consume engine holds now, for the gauges (see ConsumeEngineMetrics). */
export interface EngineLoad {
  readonly inFlight: number;
  readonly waiting: number;
  readonly pausedByPressure: number;
  held(): Array<{ topic: string; partition: number; records: number }>;
}

export type ConsumerStatus = 'starting' | 'joined' | 'rebalancing' | 'crashed' | 'stopped';

/** What the health check, the dead-letter interceptor and the logs know of this instance's consumer. */
export class ConsumerState {
  status: ConsumerStatus = 'starting';
  assignments: Record<string, number[]> = {};
  lastError: string | null = null;
  /** The consume engine, once the consumer runs. */
  engine?: EngineLoad;
  /** True while the application is closing on purpose, so a stop is not reported as a failure. */
  closing = false;
  /**
   * When the consumer last showed it is working (a fetch, a heartbeat, a join, a crash kafkajs restarts from, a
   * restart attempt of the service's own). Even idle or waiting out an outage it shows one every few seconds.
   */
  private lastSign = Date.now();

  /** The records held for a retry, and since when. */
  constructor(readonly retries: RecordRetries) {}

  sign(now = Date.now()): void {
    this.lastSign = now;
  }

  /** How long the consumer has shown no sign of working; 0 while the application closes on purpose. */
  silentFor(now = Date.now()): number {
    return this.closing ? 0 : Math.max(0, now - this.lastSign);
  }
}
