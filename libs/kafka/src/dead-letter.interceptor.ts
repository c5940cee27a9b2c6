import { Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { KafkaContext } from '@nestjs/microservices';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import { catchError, defer, map, tap, throwError, type Observable } from 'rxjs';
import { deadLetterTopicFor, type DeadLetterRecord } from '@app/contracts';
import { METRICS, ServiceIdentity } from '@app/platform';
import { isTransientError } from './errors';
import { EventPublisher } from './event-publisher';
import { recordSource, type RecordSource } from './kafka-event';

// A dead letter must fit the broker's 1 MB record limit, or writing it would fail forever and block the
// partition: the original (JSON-escaped in the letter) and the error are cut to sizes that always fit.
const MAX_ORIGINAL_CHARS = 256 * 1024;
const MAX_ERROR_CHARS = 16 * 1024;

/** The consumer group this service's handlers run in, recorded in every dead letter. */
export class ConsumerGroup {
  constructor(readonly id: string) {}
}

/**
 * Keeps one bad message from crashing or blocking a consumer. A handler error caused by the message
 * (undecodable, invalid, rejected by the database) moves the record to its DLQ topic and the partition
 * goes on; an error of the infrastructure (database or broker down) is rethrown so the record is
 * redelivered once it is back. Without this, Nest turns every error into a retry, then a consumer crash,
 * then the same message again, forever.
 */
@Injectable()
export class DeadLetterInterceptor implements NestInterceptor {
  private readonly logger = new Logger('DeadLetter');

  constructor(
    private readonly publisher: EventPublisher,
    private readonly group: ConsumerGroup,
    private readonly identity: ServiceIdentity,
    @InjectMetric(METRICS.messagesConsumed) private readonly consumed: Counter<'topic' | 'outcome'>,
    @InjectMetric(METRICS.deadLettered) private readonly deadLettered: Counter<'topic'>,
    @InjectMetric(METRICS.handlerSeconds) private readonly duration: Histogram<'topic'>,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const kafka = context.switchToRpc().getContext<KafkaContext>();
    const source = recordSource(kafka);
    const endTimer = this.duration.startTimer({ topic: source.topic });
    return next.handle().pipe(
      tap({ complete: () => this.consumed.inc({ topic: source.topic, outcome: 'processed' }) }),
      catchError((error: unknown) => {
        if (isTransientError(error)) {
          this.logger.warn(`${where(source)} failed for a transient reason, it will be redelivered: ${describe(error)}`);
          return throwError(() => error);
        }
        // Nest awaits the last value of this stream: it must emit one, or the record is redelivered.
        return defer(() => this.deadLetter(kafka, source, error)).pipe(map(() => null));
      }),
      tap({ finalize: () => endTimer() }),
    );
  }

  private async deadLetter(kafka: KafkaContext, source: RecordSource, error: unknown): Promise<void> {
    const dlqTopic = deadLetterTopicFor(source.topic);
    const value = kafka.getMessage().value as Buffer | null;
    const original = value === null ? null : value.toString('utf8');
    const reason = describe(error);
    const record: DeadLetterRecord = {
      original_message: original === null ? null : original.slice(0, MAX_ORIGINAL_CHARS),
      truncated: (original?.length ?? 0) > MAX_ORIGINAL_CHARS || reason.length > MAX_ERROR_CHARS,
      original_key: source.key,
      error: reason.slice(0, MAX_ERROR_CHARS),
      timestamp: new Date().toISOString(),
      topic: source.topic,
      partition: source.partition,
      offset: source.offset,
      group: this.group.id,
      instance_id: this.identity.instanceId,
    };
    // A request of its own: a large letter must not push a shared request past the broker's size limit.
    await this.publisher.publishBatch(dlqTopic, [{ key: source.key ?? `${source.topic}:${source.partition}`, value: record }]);
    this.deadLettered.inc({ topic: source.topic });
    this.consumed.inc({ topic: source.topic, outcome: 'dead_lettered' });
    this.logger.warn(`${where(source)} moved to ${dlqTopic}: ${record.error}`);
  }
}

function where(source: RecordSource): string {
  return `${source.topic}[${source.partition}]@${source.offset}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
