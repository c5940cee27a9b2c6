import { Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { KafkaContext } from '@nestjs/microservices';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import { catchError, defer, map, of, tap, throwError, type Observable } from 'rxjs';
import { deadLetterTopicFor } from '@app/contracts';
import { METRICS, Secrets, ServiceIdentity } from '@app/platform';
import { FailurePolicy, isRecordFault } from './consume/failure-policy';
import { currentRecordScope } from './consume/record-scope';
import { describeError } from './consume/topic-partition';
import { buildDeadLetter } from './dead-letter';
import { EventPublisher } from './event-publisher';
import { recordSource, type RecordSource } from './kafka-event';
import { ConsumerState } from './consume/consumer-state';

/** The consumer group this service's handlers run in, recorded in every dead letter. */
export class ConsumerGroup {
  constructor(readonly id: string) {}
}

/**
 * Keeps one bad record from crashing or blocking a consumer. When a handler fails, the FailurePolicy decides:
 * a record at fault (undecodable, against its contract, data the database rejects) moves to its DLQ topic and
 * the partition goes on; any other failure (an outage, a bug) is rethrown, and the consumer retries the record
 * with backoff, until it succeeds or has failed for RETRY_MAX_MS, when it is parked here as retriable. Without
 * this, Nest turns every error into a redelivery, then a consumer crash, then the same record again, forever.
 */
@Injectable()
export class DeadLetterInterceptor implements NestInterceptor {
  private readonly logger = new Logger('DeadLetter');

  constructor(
    private readonly publisher: EventPublisher,
    private readonly group: ConsumerGroup,
    private readonly identity: ServiceIdentity,
    private readonly policy: FailurePolicy,
    private readonly consumer: ConsumerState,
    private readonly secrets: Secrets,
    @InjectMetric(METRICS.messagesConsumed) private readonly consumed: Counter<'topic' | 'outcome'>,
    @InjectMetric(METRICS.deadLettered) private readonly deadLettered: Counter<'topic' | 'retriable' | 'reason'>,
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
        const since = this.consumer.retries.failingSince(source.topic, source.partition, source.offset);
        const verdict = this.policy.decide(error, since);
        if (verdict.action === 'retry') {
          // Handed to the consume loop, which retries the record after a backoff. Nest must still get a value.
          const scope = currentRecordScope();
          if (!scope) return throwError(() => error);
          scope.failure = { error };
          return of(null);
        }
        // What the handler published before it failed leaves with nothing but the letter.
        const scope = currentRecordScope();
        scope?.staged.splice(0);
        if (scope) scope.deadLettered = true;
        // Nest awaits the last value of this stream: it must emit one, or the record is redelivered.
        return defer(() => this.deadLetter(kafka, source, error, verdict.retriable)).pipe(map(() => null));
      }),
      tap({ finalize: () => endTimer() }),
    );
  }

  private async deadLetter(kafka: KafkaContext, source: RecordSource, error: unknown, retriable: boolean): Promise<void> {
    const dlqTopic = deadLetterTopicFor(source.topic);
    // Keys and headers are bytes as they came (see MonitoredKafkaServer's parser), so the letter keeps them exactly.
    const message = kafka.getMessage();
    const letter = buildDeadLetter(
      { ...source, key: message.key, value: message.value as Buffer | null, headers: message.headers },
      // A driver's error may quote a connection URL: the letter, kept and printed by `npm run dlq`, must not.
      { error: this.secrets.redact(describeError(error)), retriable, group: this.group.id, instanceId: this.identity.instanceId },
    );
    // A request of its own: a large letter must not push a shared request past the topic's size limit.
    await this.publisher.publishBatch(dlqTopic, [{ key: letter.key, value: letter.record }]);
    // The record's own fault names its kind; a good record parked after an outage outlasted the retries has none.
    const reason = retriable ? 'retries_exhausted' : isRecordFault(error) ? error.reason : 'record_fault';
    this.deadLettered.inc({ topic: source.topic, retriable: String(retriable), reason });
    this.consumed.inc({ topic: source.topic, outcome: 'dead_lettered' });
    const why = retriable ? `still failing after RETRY_MAX_MS (${this.policy.retryMaxMs} ms), parked as retriable` : 'the record is at fault';
    this.logger.warn(`${source.topic}[${source.partition}]@${source.offset} moved to ${dlqTopic} (${why}): ${letter.record.error}`);
  }
}
