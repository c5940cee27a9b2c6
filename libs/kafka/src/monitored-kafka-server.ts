import { Logger } from '@nestjs/common';
import { ServerKafka } from '@nestjs/microservices';
import type { ConsumerCrashEvent, ConsumerGroupJoinEvent } from 'kafkajs';
import type { KafkaServerOptions } from './kafka-config';

export type ConsumerStatus = 'starting' | 'joined' | 'rebalancing' | 'crashed' | 'stopped';

/** What the health check and the logs know of this instance's consumer. */
export class ConsumerState {
  status: ConsumerStatus = 'starting';
  assignments: Record<string, number[]> = {};
  lastError: string | null = null;
  /** True while the application is closing on purpose, so a stop is not reported as a failure. */
  closing = false;
}

/**
 * Nest's Kafka server, plus what Nest does not surface: the partitions each rebalance assigns (logged, as
 * the course's scaling demo needs to show) and crashes, which health reports.
 */
export class MonitoredKafkaServer extends ServerKafka {
  private readonly monitorLogger: Logger;

  constructor(
    options: KafkaServerOptions,
    private readonly state: ConsumerState,
    private readonly label: string,
  ) {
    super(options);
    this.monitorLogger = new Logger(`Consumer ${label}`);
  }

  protected override registerConsumerEventListeners(): void {
    super.registerConsumerEventListeners();
    const consumer = this.consumer;
    if (!consumer) return;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }: ConsumerGroupJoinEvent) => {
      this.state.status = 'joined';
      this.state.assignments = payload.memberAssignment;
      const owned = Object.entries(payload.memberAssignment)
        .map(([topic, partitions]) => `${topic}[${[...partitions].sort((a, b) => a - b).join(',')}]`)
        .join(' ');
      this.monitorLogger.log(`${this.label} joined ${payload.groupId}: assigned ${owned || 'no partitions'}`);
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.state.status = 'rebalancing';
    });
    consumer.on(consumer.events.CRASH, ({ payload }: ConsumerCrashEvent) => {
      this.state.status = 'crashed';
      this.state.lastError = `${payload.error.name}: ${payload.error.message}`;
      this.monitorLogger.error(`consumer crashed (${payload.restart ? 'restarting' : 'not restarting'}): ${this.state.lastError}`);
      // kafkajs has given up on it: rather than serve HTTP with no consumer, stop, so a supervisor restarts us.
      if (!payload.restart && !this.state.closing) {
        process.exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
      }
    });
    consumer.on(consumer.events.STOP, () => {
      this.state.status = 'stopped';
    });
  }

  override async close(): Promise<void> {
    this.state.closing = true;
    await super.close();
  }
}
