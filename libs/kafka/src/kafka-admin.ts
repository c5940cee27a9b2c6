import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Environment, ServiceIdentity } from '@app/platform';
import { kafkaClientConfig } from './kafka-config';
import { describeTopicReport, ensureTopics } from './topics';

/** The service's admin connection: creates the topics at start and answers the health check. */
@Injectable()
export class KafkaAdmin implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KafkaAdmin.name);
  readonly admin: Admin;

  constructor(
    private readonly env: Environment,
    identity: ServiceIdentity,
  ) {
    this.admin = new Kafka({
      ...kafkaClientConfig(env.kafkaBrokers, `${identity.clientId}-admin`),
      logLevel: logLevel.NOTHING,
    }).admin();
  }

  async onModuleInit(): Promise<void> {
    await this.admin.connect();
    const report = await ensureTopics(this.admin, this.env.TOPIC_PARTITIONS);
    if (report.created.length > 0) this.logger.log(`created topics: ${report.created.join(', ')}`);
    for (const warning of describeTopicReport(report)) this.logger.warn(warning);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin.disconnect();
  }

  /** Asks the broker for the cluster's metadata, within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<{ brokers: number; controller: number | null }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from the broker within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const cluster = await Promise.race([this.admin.describeCluster(), deadline]);
      return { brokers: cluster.brokers.length, controller: cluster.controller };
    } finally {
      clearTimeout(timer);
    }
  }
}
