import 'reflect-metadata';
import { Logger, Module, type LogLevel, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { TerminusModule } from '@nestjs/terminus';
import { GROUP_TOPICS } from '@app/contracts';
import { consumerServerOptions, ConsumerState, KafkaModule, MonitoredKafkaServer } from '@app/kafka';
import {
  ConfigurationError,
  DatabaseUnavailableError,
  EnvironmentModule,
  HttpValidationPipe,
  loadEnvironment,
  MetricsModule,
  ServiceIdentity,
  type Environment,
} from '@app/platform';
import { HealthController } from './health.controller';

export interface ServiceDefinition {
  name: ServiceIdentity['name'];
  /** The service's own module: its controllers, handlers and database. */
  module: Type<unknown>;
  defaultPort: number;
  /** Group of the service's `@EventPattern` handlers; a service without one only produces. */
  consumerGroup?: string;
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
/** Largest accepted JSON body: a full 100-item cart is about 15 kB. */
export const BODY_LIMIT = '64kb';

@Module({ imports: [TerminusModule], controllers: [HealthController] })
class HealthModule {}

/**
 * Starts one service as a hybrid app: HTTP (its routes, /health, /metrics) plus, for consumers, Nest's
 * Kafka server with the app's global interceptors (the dead-letter one) inherited.
 */
export async function bootstrapService(definition: ServiceDefinition): Promise<NestExpressApplication> {
  const env = loadEnvironmentOrExit(definition.defaultPort);
  const identity = new ServiceIdentity(definition.name, env.INSTANCE_ID);
  const logger = new Logger(`${definition.name}#${identity.instanceId}`);
  let app: NestExpressApplication | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(
      {
        module: class ServiceRootModule {},
        imports: [
          EnvironmentModule.register(env, identity),
          MetricsModule,
          KafkaModule.forService({ consumerGroup: definition.consumerGroup }),
          HealthModule,
          definition.module,
        ],
      },
      { logger: LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(env.LOG_LEVEL) + 1) },
    );
    app.useBodyParser('json', { limit: BODY_LIMIT });
    app.useGlobalPipes(new HttpValidationPipe());
    app.enableShutdownHooks();
    // Topics, database, producer and the HTTP port are all ready before the consumer joins its group, so
    // a failure among them cannot leave a member in the group that will never consume.
    await app.init();
    await app.listen(env.PORT, '0.0.0.0');
    if (definition.consumerGroup) {
      const options = consumerServerOptions({
        brokers: env.kafkaBrokers,
        clientId: identity.clientId,
        groupId: definition.consumerGroup,
        // Every partition the group reads can be in flight at once (analytics reads three topics).
        concurrency: env.TOPIC_PARTITIONS * (GROUP_TOPICS[definition.consumerGroup]?.length ?? 1),
      });
      // The course's slow step (PROCESSING_DELAY_MS) models work that cannot overlap: one record at a time.
      const dispatch = { sequential: env.PROCESSING_DELAY_MS > 0 };
      const server = new MonitoredKafkaServer(options, app.get(ConsumerState), `[Instance #${identity.instanceId}]`, dispatch);
      app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
      await app.startAllMicroservices();
    }
    logger.log(`listening on :${env.PORT} (Kafka ${env.KAFKA_BROKERS})`);
    return app;
  } catch (error) {
    await app?.close().catch(() => undefined);
    if (error instanceof DatabaseUnavailableError) exit(logger, error.message);
    exit(logger, `failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}

function loadEnvironmentOrExit(defaultPort: number): Environment {
  try {
    return loadEnvironment(process.env, { PORT: defaultPort });
  } catch (error) {
    if (error instanceof ConfigurationError) exit(new Logger('config'), error.message);
    throw error;
  }
}

function exit(logger: Logger, message: string): never {
  logger.error(message);
  process.exit(1);
}
