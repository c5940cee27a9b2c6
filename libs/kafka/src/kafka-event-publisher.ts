import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ClientKafka } from '@nestjs/microservices';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { Environment, METRICS, ServiceIdentity } from '@app/platform';
import { EventPublisher, type OutgoingEvent } from './event-publisher';
import { kafkaClientConfig, producerConfig } from './kafka-config';

interface Pending {
  event: OutgoingEvent;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A topic's outgoing queue: at most one produce request in flight, the rest waiting to go together. */
interface TopicQueue {
  waiting: Pending[];
  sending: boolean;
}

/** Largest number of events one produce request carries. */
const MAX_BATCH = 1000;

/**
 * EventPublisher over Nest's ClientKafka: producer only, acks=all, connected at boot so a dead broker fails
 * fast. Events published while a request to the same topic is in flight wait and leave together in the
 * next one (kafkajs has no linger): under load, many HTTP requests share one produce request instead of
 * each paying for its own; alone, an event leaves at once. Each caller still waits for the broker's
 * acknowledgement of the request that carried its event, and events of one key keep their order.
 */
@Injectable()
export class KafkaEventPublisher extends EventPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly client: ClientKafka;
  private readonly queues = new Map<string, TopicQueue>();

  constructor(
    env: Environment,
    identity: ServiceIdentity,
    @InjectMetric(METRICS.messagesSent) private readonly sent: Counter<'event_type'>,
  ) {
    super();
    this.client = new ClientKafka({
      postfixId: '',
      producerOnlyMode: true,
      client: kafkaClientConfig(env.kafkaBrokers, `${identity.clientId}-producer`),
      producer: producerConfig,
      send: { acks: -1, timeout: 10_000 },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.client.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }

  publish<T extends object>(topic: string, event: OutgoingEvent<T>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const queue = this.queues.get(topic) ?? { waiting: [], sending: false };
      this.queues.set(topic, queue);
      queue.waiting.push({ event, resolve, reject });
      if (!queue.sending) void this.drain(topic, queue);
    });
  }

  async publishBatch<T extends object>(topic: string, events: OutgoingEvent<T>[]): Promise<void> {
    if (events.length === 0) return;
    await lastValueFrom(this.client.emitBatch(topic, { messages: events }));
    this.sent.inc({ event_type: topic }, events.length);
  }

  private async drain(topic: string, queue: TopicQueue): Promise<void> {
    queue.sending = true;
    while (queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, MAX_BATCH);
      try {
        await this.publishBatch(topic, batch.map((p) => p.event));
        for (const pending of batch) pending.resolve();
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    queue.sending = false;
  }
}
