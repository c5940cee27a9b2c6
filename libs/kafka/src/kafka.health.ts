import { Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { KafkaAdmin } from './kafka-admin';
import { ConsumerState } from './consume/consumer-state';

/**
 * A consumer silent this long (no fetch, heartbeat, join or restart attempt) is wedged, not waiting: kafkajs
 * shows a sign every few seconds in every state it can recover from, an outage included.
 */
export const CONSUMER_SILENCE_LIMIT_MS = 60_000;

/**
 * Kafka is healthy when the broker answers and, in a service that consumes, the consumer is in its group
 * (or rebalancing it):
 * a crashed consumer behind a live HTTP port is exactly the failure a broker ping alone would miss.
 */
@Injectable()
export class KafkaHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly admin: KafkaAdmin,
    @Optional() private readonly consumer?: ConsumerState,
  ) {}

  /**
   * Liveness: the consumer is alive, joined or waiting out an outage, as long as it shows signs of working. Only a
   * consumer gone silent for good fails it, which a restart of the process cures; an outage never does.
   */
  live(key = 'consumer', now = Date.now()): HealthIndicatorResult {
    const indicator = this.health.check(key);
    if (!this.consumer) return indicator.up({ consuming: false });
    const silentFor = this.consumer.silentFor(now);
    const details = { consumer: this.consumer.status, silent_for_s: Math.round(silentFor / 1000) };
    return silentFor > CONSUMER_SILENCE_LIMIT_MS ? indicator.down(details) : indicator.up(details);
  }

  /** Readiness: the broker answers and, in a service that consumes, the consumer is in its group. */
  async check(key = 'kafka', timeoutMs = 2000): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const consumer = this.consumer
      ? {
          consumer: this.consumer.status,
          assignments: this.consumer.assignments,
          last_error: this.consumer.lastError,
          // Partitions with records held for a retry (an outage, a bug), by the oldest: the service waits it out.
          stalled: this.consumer.retries.stalled().map((s) => ({
            topic: s.topic,
            partition: s.partition,
            offset: s.offset,
            since: new Date(s.since).toISOString(),
            attempts: s.attempts,
            reason: s.lastError,
            next_attempt_at: new Date(s.nextAttemptAt).toISOString(),
            records_held: s.records,
          })),
        }
      : {};
    try {
      const cluster = await this.admin.ping(timeoutMs);
      // Not ready until the consumer has joined its group; down again if it crashes or stops on its own.
      if (this.consumer && !this.consumer.closing && ['starting', 'crashed', 'stopped'].includes(this.consumer.status)) {
        return indicator.down({ ...cluster, ...consumer });
      }
      return indicator.up({ ...cluster, ...consumer });
    } catch (error) {
      return indicator.down({ message: (error as Error).message, ...consumer });
    }
  }
}
