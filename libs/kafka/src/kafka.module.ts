import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ConsumerLagMetrics } from './consumer-lag.metrics';
import { ConsumerGroup, DeadLetterInterceptor } from './dead-letter.interceptor';
import { EventPublisher } from './event-publisher';
import { KafkaAdmin } from './kafka-admin';
import { KafkaEventPublisher } from './kafka-event-publisher';
import { KafkaHealthIndicator } from './kafka.health';
import { StalledPartitionsMetrics } from './consume/stalled-partitions.metrics';
import { ConsumeEngineMetrics } from './consume/consume-engine.metrics';
import { Environment } from '@app/platform';
import { ConsumerState } from './consume/consumer-state';
import { FailurePolicy } from './consume/failure-policy';
import { RecordRetries } from './consume/record-retries';

/** The first retry of a failing record comes this soon; waits double up to RETRY_STEP_MAX_MS. */
const RETRY_FIRST_MS = 100;
const RETRY_STEP_MAX_MS = 10_000;

/** The retries of a consuming service; `now` and `random` are there so a spec can check this wiring. */
export function consumerStateFor(env: Pick<Environment, 'RETRY_MAX_MS'>, now?: () => number, random?: () => number): ConsumerState {
  return new ConsumerState(new RecordRetries({ initialMs: RETRY_FIRST_MS, maxMs: RETRY_STEP_MAX_MS, boundMs: env.RETRY_MAX_MS }, now, random));
}

/** What becomes of a consuming service's failing records: retried for up to RETRY_MAX_MS, then parked. */
export function failurePolicyFor(env: Pick<Environment, 'RETRY_MAX_MS'>): FailurePolicy {
  return new FailurePolicy(env.RETRY_MAX_MS);
}

export interface KafkaModuleOptions {
  /** The consumer group of the service's `@EventPattern` handlers; absent for a producer-only service. */
  consumerGroup?: string;
}

/** The Kafka layer of one service: topics at start, a publisher, and for consumers the dead-letter interceptor. */
@Module({})
export class KafkaModule {
  static forService(options: KafkaModuleOptions = {}): DynamicModule {
    const consumerProviders: Provider[] = options.consumerGroup
      ? [
          { provide: ConsumerGroup, useValue: new ConsumerGroup(options.consumerGroup) },
          {
            provide: ConsumerState,
            inject: [Environment],
            useFactory: (env: Environment) => consumerStateFor(env),
          },
          { provide: FailurePolicy, inject: [Environment], useFactory: (env: Environment) => failurePolicyFor(env) },
          { provide: APP_INTERCEPTOR, useClass: DeadLetterInterceptor },
          ConsumerLagMetrics,
          StalledPartitionsMetrics,
          ConsumeEngineMetrics,
        ]
      : [];
    const exported = [EventPublisher, KafkaAdmin, KafkaHealthIndicator, ...(options.consumerGroup ? [ConsumerGroup, ConsumerState] : [])];
    return {
      module: KafkaModule,
      global: true,
      imports: [TerminusModule],
      providers: [
        KafkaAdmin,
        { provide: EventPublisher, useClass: KafkaEventPublisher },
        KafkaHealthIndicator,
        ...consumerProviders,
      ],
      exports: exported,
    };
  }
}
