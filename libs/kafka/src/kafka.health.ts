import { Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { KafkaAdmin } from './kafka-admin';
import { ConsumerState } from './consume/consumer-state';

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

  async check(key = 'kafka', timeoutMs = 2000): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const consumer = this.consumer
      ? {
          consumer: this.consumer.status,
          assignments: this.consumer.assignments,
          last_error: this.consumer.lastError,
          // Partitions held at a record being retried (an outage, a bug): the service is alive and waits it out.
          stalled: this.consumer.retries.stalled().map((s) => ({
            topic: s.topic,
            partition: s.partition,
            offset: s.offset,
            since: new Date(s.since).toISOString(),
            attempts: s.attempts,
            reason: s.lastError,
            next_attempt_at: new Date(s.nextAttemptAt).toISOString(),
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
