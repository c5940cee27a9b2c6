import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ClientKafka } from '@nestjs/microservices';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { Coalescer, currentRequestId, Environment, METRICS, REQUEST_ID_HEADER, ServiceIdentity } from '@app/platform';
import { KafkaJSProtocolError } from 'kafkajs';
import { RecordFault } from '@app/contracts';
import { currentRecordScope } from './consume/record-scope';
import { EventPublisher, type OutgoingEvent } from './event-publisher';
import { kafkaClientConfig, producerConfig } from './kafka-config';

/** The broker's answers that refuse the records themselves (too large, malformed), not the request. */
const REFUSED_AS_DATA = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE']);

/** The broker refused an event as such: the record that caused it is at fault, however often it is retried. */
export class EventRefused extends RecordFault {
  override name = 'EventRefused';
  override readonly reason = 'event_refused';

  constructor(topic: string, cause: KafkaJSProtocolError) {
    super(`the broker refused an event for ${topic}: ${cause.type} (${cause.message})`);
  }
}

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

  /**
   * Inside a record handled in a transaction (exactly-once delivery), events are not sent here: they are staged
   * on the record and leave with its offset in the consume loop's transaction, or not at all.
   */
  private stage(topic: string, events: OutgoingEvent[]): boolean {
    const scope = currentRecordScope();
    if (!scope?.transactional) return false;
    scope.staged.push({ topic, events });
    return true;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.client.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }

  publish<T extends object>(topic: string, given: OutgoingEvent<T>): Promise<void> {
    const event = correlated(given);
    if (this.stage(topic, [event])) return Promise.resolve();
    let queue = this.queues.get(topic);
    if (!queue) {
      const send = async (events: OutgoingEvent[]): Promise<void[]> => {
        await this.send(topic, events);
        return events.map(() => undefined);
      };
      queue = new Coalescer(send, { maxBatch: MAX_BATCH, isolate: (error) => error instanceof EventRefused });
      this.queues.set(topic, queue);
    }
    return queue.submit(event);
  }

  async publishBatch<T extends object>(topic: string, given: OutgoingEvent<T>[]): Promise<void> {
    const events = given.map(correlated);
    if (events.length === 0 || this.stage(topic, events)) return;
    await this.send(topic, events);
  }

  private async send(topic: string, events: OutgoingEvent[]): Promise<void> {
    await lastValueFrom(this.client.emitBatch(topic, { messages: events })).catch((error: unknown) => {
      const refusal = protocolCause(error);
      if (refusal && REFUSED_AS_DATA.has(refusal.type)) throw new EventRefused(topic, refusal);
      throw error;
    });
    this.sent.inc({ event_type: topic }, events.length);
  }
}

/**
 * The event with the request id of the work that publishes it (the HTTP request, or the record being handled)
 * in its x-request-id header, so that the id travels on through the chain and into dead letters.
 */
function correlated<T extends object>(event: OutgoingEvent<T>): OutgoingEvent<T> {
  const id = currentRequestId();
  if (id === undefined || event.headers?.[REQUEST_ID_HEADER] !== undefined) return event;
  return { ...event, headers: { ...event.headers, [REQUEST_ID_HEADER]: id } };
}

/** The broker's own answer, where kafkajs wrapped it (its retrier gives up with the answer as the cause). */
function protocolCause(error: unknown): KafkaJSProtocolError | undefined {
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    if (current instanceof KafkaJSProtocolError) return current;
  }
  return undefined;
}
