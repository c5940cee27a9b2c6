import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ClientKafka } from '@nestjs/microservices';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { Coalescer, Environment, METRICS, ServiceIdentity } from '@app/platform';
import { isBadData } from './errors';
import { EventPublisher, type OutgoingEvent } from './event-publisher';
import { kafkaClientConfig, producerConfig } from './kafka-config';

/** Largest number of events one produce request carries. */
const MAX_BATCH = 1000;

/**
 * EventPublisher over Nest's ClientKafka: producer only, acks=all, connected at boot so a dead broker fails
 * fast. Events of one topic published in the same turn, or while a request to that topic is in flight, leave
 * together in the next request (kafkajs has no linger): many HTTP requests, or the records of a fetched
 * batch, share one produce request instead of each paying for its own; alone, an event leaves at once.
 * Each caller still waits for the broker's acknowledgement of the request that carried its event, events of
 * one key keep their order, and an event the broker refuses as such (too large) fails only its own caller.
 */
@Injectable()
export class KafkaEventPublisher extends EventPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly client: ClientKafka;
  private readonly queues = new Map<string, Coalescer<OutgoingEvent, void>>();

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
    let queue = this.queues.get(topic);
    if (!queue) {
      const send = async (events: OutgoingEvent[]): Promise<void[]> => {
        await this.publishBatch(topic, events);
        return events.map(() => undefined);
      };
      queue = new Coalescer(send, { maxBatch: MAX_BATCH, isolate: isBadData });
      this.queues.set(topic, queue);
    }
    return queue.submit(event);
  }

  async publishBatch<T extends object>(topic: string, events: OutgoingEvent<T>[]): Promise<void> {
    if (events.length === 0) return;
    await lastValueFrom(this.client.emitBatch(topic, { messages: events }));
    this.sent.inc({ event_type: topic }, events.length);
  }
}
