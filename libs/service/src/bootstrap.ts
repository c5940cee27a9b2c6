import 'reflect-metadata';
import { Logger, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { TerminusModule } from '@nestjs/terminus';
import { getToken } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { GROUP_TOPICS, INPUT_LIMITS } from '@app/contracts';
import { consumerServerOptions, ConsumerState, KafkaModule, MonitoredKafkaServer, TRANSACTION_GATHERING, type FetchGathering } from '@app/kafka';
import {
  ConfigurationError,
  DatabaseUnavailableError,
  EnvironmentModule,
  bodyParserErrors,
  HttpValidationPipe,
  httpMetrics,
  jsonBodyOptions,
  loadEnvironment,
  METRICS,
  MetricsModule,
  correlationMiddleware,
  createServiceLogger,
  loggerModule,
  loggerParams,
  nestLogger,
  pinoLevel,
  requireJsonBody,
  Secrets,
  ServiceIdentity,
  type Environment,
} from '@app/platform';
import { HealthController } from './health.controller';

export interface ServiceDefinition {
  name: ServiceIdentity['name'];
  /** The service's own module: its controllers, handlers and database. */
  module: Type<unknown>;
  defaultPort: number;
  /** What the service does, for its API page (`/docs`). */
  description: string;
  /** Group of the service's `@EventPattern` handlers; a service without one only produces. */
  consumerGroup?: string;
  /** How its fetches wait for records to gather; unset, exactly once hops gather for a transaction's sake. */
  gather?: FetchGathering;
}

/** Largest accepted JSON body, in body-parser's words. */
export const BODY_LIMIT = `${INPUT_LIMITS.bodyBytes / 1024}kb`;

@Module({ imports: [TerminusModule], controllers: [HealthController] })
class HealthModule {}

/**
 * OpenAPI at `/docs` (and `/docs-json`), generated from the controllers and the class-validator DTOs that
 * validate the requests (the @nestjs/swagger compiler plugin of `nest build` reads their decorators and comments).
 */
function serveApiDocs(app: NestExpressApplication, definition: ServiceDefinition): void {
  const config = new DocumentBuilder()
    .setTitle(`${definition.name} service`)
    .setDescription(`${definition.description}\n\nPart of the Black Friday chain: payment → order → email, with analytics watching all three topics.`)
    .setVersion(process.env.npm_package_version ?? '0.1.0')
    // The read endpoints (orders, emails, analytics) take the READ_TOKEN as a bearer token when it is set.
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'READ_TOKEN, when the service has one' })
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config), { jsonDocumentUrl: 'docs-json' });
}

/**
 * Starts one service as a hybrid app: HTTP (its routes, /health, /metrics) plus, for consumers, Nest's
 * Kafka server with the app's global interceptors (the dead-letter one) inherited.
 */
export async function bootstrapService(definition: ServiceDefinition): Promise<NestExpressApplication> {
  // Installed before the environment is read, so that even a configuration error is a JSON line without secrets.
  const root = createServiceLogger({ service: definition.name, instanceId: process.env.INSTANCE_ID ?? '1', secrets: Secrets.of(process.env) });
  const params = loggerParams(root);
  const printer = nestLogger(params);
  Logger.overrideLogger(printer);
  const env = loadEnvironmentOrExit(definition.defaultPort);
  root.level = pinoLevel(env.LOG_LEVEL);
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
          loggerModule(params),
          KafkaModule.forService({ consumerGroup: definition.consumerGroup }),
          HealthModule,
          definition.module,
        ],
      },
      { logger: printer, bodyParser: false },
    );
    // First, so that every answer is counted and carries its X-Request-Id, those refused before routing included.
    app.use(correlationMiddleware);
    app.use(httpMetrics(app.get(getToken(METRICS.httpRequests)), app.get(getToken(METRICS.httpSeconds))));
    // JSON only (Nest's default parsers also read forms, which no endpoint takes): anything else is a 415.
    app.use(requireJsonBody);
    app.useBodyParser('json', jsonBodyOptions(BODY_LIMIT));
    app.use(bodyParserErrors(BODY_LIMIT));
    app.useGlobalPipes(new HttpValidationPipe());
    serveApiDocs(app, definition);
    // SIGTERM or SIGINT: consumers leave, the database closes, then exit 0 (a graceful stop, told apart from being
    // killed by the signal; it also lets the logger flush).
    app.enableShutdownHooks([], { useProcessExit: true });
    // Topics, database, producer and the HTTP port are all ready before the consumer joins its group, so
    // a failure among them cannot leave a member in the group that will never consume.
    await app.init();
    await app.listen(env.PORT, '0.0.0.0');
    if (definition.consumerGroup) {
      // Exactly once, what handlers publish (order and email's events, anyone's dead letters) leaves in one
      // transaction with the offsets of the records that caused it: a record handled again writes nothing twice.
      const transactional = env.DELIVERY === 'exactly-once';
      const options = consumerServerOptions({
        brokers: env.kafkaBrokers,
        clientId: identity.clientId,
        groupId: definition.consumerGroup,
        // Every partition the group reads can be in flight at once (analytics reads three topics).
        concurrency: env.TOPIC_PARTITIONS * (GROUP_TOPICS[definition.consumerGroup]?.length ?? 1),
        gather: definition.gather ?? (transactional ? TRANSACTION_GATHERING : undefined),
      });
      const retries = app.get<Counter<'topic'>>(getToken(METRICS.retries));
      const sent = app.get<Counter<'event_type'>>(getToken(METRICS.messagesSent));
      const transactions = app.get<Counter<'topic' | 'outcome'>>(getToken(METRICS.transactions));
      const rebalances = app.get<Counter>(getToken(METRICS.rebalances));
      const crashes = app.get<Counter>(getToken(METRICS.crashes));
      const server = new MonitoredKafkaServer(options, app.get(ConsumerState), `[Instance #${identity.instanceId}]`, {
        order: env.CONSUMER_ORDER,
        transactional,
        maxInFlight: env.CONSUMER_MAX_IN_FLIGHT,
        telemetry: {
          retried: (topic) => retries.inc({ topic }),
          sent: (topic, count) => sent.inc({ event_type: topic }, count),
          transaction: (topic, outcome) => transactions.inc({ topic, outcome }),
          rebalanced: () => rebalances.inc(),
          crashed: () => crashes.inc(),
        },
      });
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
