import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { DLQ_TOPICS, type DeadLetterTopic } from '@app/contracts';
import { Environment, ServiceIdentity } from '@app/platform';
import { kafkaClientConfig } from './kafka-config';

/**
 * How many dead letters each DLQ topic holds, kept live by reading the DLQ topics from their start (read
 * committed, so an aborted transaction's letter is not counted, nor its transaction markers, which take
 * offsets). It reads in a group of its own that commits nothing, so every start counts from the beginning
 * again; an offset seen before (after a rebalance or a restart of the consumer) is not counted twice.
 */
@Injectable()
export class DeadLetterCount implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(DeadLetterCount.name);
  private readonly consumer: Consumer;
  /** Per `topic:partition`, the next offset not yet counted. */
  private readonly next = new Map<string, bigint>();
  private readonly letters = new Map<DeadLetterTopic, number>(Object.values(DLQ_TOPICS).map((t) => [t, 0]));

  constructor(env: Environment, identity: ServiceIdentity) {
    const clientId = `${identity.clientId}-dlq-count`;
    this.consumer = new Kafka({ ...kafkaClientConfig(env.kafkaBrokers, clientId), logLevel: logLevel.NOTHING }).consumer({
      groupId: `${clientId}-${randomUUID()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
  }

  async onModuleInit(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: Object.values(DLQ_TOPICS), fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}:${batch.partition}`;
        let next = this.next.get(key) ?? 0n;
        let fresh = 0;
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          if (offset < next) continue;
          fresh++;
          next = offset + 1n;
        }
        this.next.set(key, next);
        const topic = batch.topic as DeadLetterTopic;
        this.letters.set(topic, (this.letters.get(topic) ?? 0) + fresh);
      },
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => this.logger.warn(`dead-letter count: ${payload.error.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.disconnect();
  }

  /** Dead letters counted so far, per DLQ topic. */
  counts(): Record<DeadLetterTopic, number> {
    return Object.fromEntries(this.letters) as Record<DeadLetterTopic, number>;
  }
}
