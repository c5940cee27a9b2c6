import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { KafkaContext } from '@nestjs/microservices';
import { Counter, Histogram, Registry } from 'prom-client';
import { defer, lastValueFrom, of, throwError } from 'rxjs';
import type { DeadLetterRecord } from '@app/contracts';
import { Secrets, ServiceIdentity } from '@app/platform';
import { ConsumerGroup, DeadLetterInterceptor } from './dead-letter.interceptor';
import { ConsumerState } from './consume/consumer-state';
import { FailurePolicy, PoisonMessageError } from './consume/failure-policy';
import { RecordRetries } from './consume/record-retries';
import { RecordScope, runInRecordScope } from './consume/record-scope';
import { EventPublisher, type OutgoingEvent } from './event-publisher';

class RecordingPublisher extends EventPublisher {
  sent: Array<{ topic: string; event: OutgoingEvent }> = [];
  failWith?: Error;
  async publish<T extends object>(topic: string, event: OutgoingEvent<T>): Promise<void> {
    await this.publishBatch(topic, [event]);
  }
  async publishBatch<T extends object>(topic: string, events: OutgoingEvent<T>[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    for (const event of events) this.sent.push({ topic, event });
  }
}

const RETRY_MAX_MS = 60_000;

function setup() {
  const registry = new Registry();
  const publisher = new RecordingPublisher();
  const retries = new RecordRetries({ initialMs: 100, maxMs: 1000, boundMs: RETRY_MAX_MS });
  const interceptor = new DeadLetterInterceptor(
    publisher,
    new ConsumerGroup('order-service-group'),
    new ServiceIdentity('order', '2'),
    new FailurePolicy(RETRY_MAX_MS),
    new ConsumerState(retries),
    Secrets.of({ DATABASE_URL: 'postgres://app:pa55word@db/shop' }),
    new Counter({ name: 'consumed', help: 'h', labelNames: ['topic', 'outcome'], registers: [registry] }),
    new Counter({ name: 'dead', help: 'h', labelNames: ['topic', 'retriable', 'reason'], registers: [registry] }),
    new Histogram({ name: 'seconds', help: 'h', labelNames: ['topic'], registers: [registry] }),
  );
  const value = Buffer.from('{"user_id": "bad"}');
  const message = { key: '42', value, offset: '17', headers: {}, timestamp: '0', attributes: 0, size: 0 };
  const kafka = new KafkaContext([message as never, 1, 'payment-successful', null as never, async () => undefined, null as never]);
  const context = new ExecutionContextHost([value, kafka]);
  context.setType('rpc');
  return { registry, publisher, interceptor, context, retries };
}

describe('DeadLetterInterceptor', () => {
  it('passes a handled message through', async () => {
    const { interceptor, context, publisher } = setup();
    await expect(lastValueFrom(interceptor.intercept(context, { handle: () => of('done') }))).resolves.toBe('done');
    expect(publisher.sent).toEqual([]);
  });

  it('moves a poison message to the DLQ verbatim and still emits a value, so the offset moves on', async () => {
    const { interceptor, context, publisher, registry } = setup();
    const handled = interceptor.intercept(context, { handle: () => throwError(() => new PoisonMessageError('bad user_id')) });
    await expect(lastValueFrom(handled)).resolves.toBeNull();
    expect(publisher.sent).toHaveLength(1);
    const [{ topic, event }] = publisher.sent;
    expect(topic).toBe('dlq-payment');
    expect(event.key).toBe('42');
    expect(event.value as DeadLetterRecord).toMatchObject({
      original_message: '{"user_id": "bad"}',
      original_encoding: 'utf8',
      original_key: '42',
      truncated: false,
      retriable: false,
      error: 'PoisonMessageError: bad user_id',
      topic: 'payment-successful',
      partition: 1,
      offset: '17',
      group: 'order-service-group',
      instance_id: '2',
    });
    expect(await registry.getSingleMetricAsString('dead')).toContain('dead{topic="payment-successful",retriable="false",reason="undecodable"} 1');
  });

  it.each([
    ['an outage', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
  ])('rethrows %s so the record is retried, not dead-lettered', async (_, error) => {
    const { interceptor, context, publisher } = setup();
    await expect(lastValueFrom(interceptor.intercept(context, { handle: () => throwError(() => error) }))).rejects.toBe(error);
    expect(publisher.sent).toEqual([]);
  });

  it('parks a record as retriable once it has been failing for RETRY_MAX_MS', async () => {
    const { interceptor, context, publisher, retries, registry } = setup();
    const down = new Error('relation "orders.orders" does not exist');
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      retries.failed('payment-successful', 1, '17', down);
      jest.setSystemTime(1_000_000 + RETRY_MAX_MS - 1);
      await expect(lastValueFrom(interceptor.intercept(context, { handle: () => throwError(() => down) }))).rejects.toBe(down);
      jest.setSystemTime(1_000_000 + RETRY_MAX_MS);
      await expect(lastValueFrom(interceptor.intercept(context, { handle: () => throwError(() => down) }))).resolves.toBeNull();
    } finally {
      jest.useRealTimers();
    }
    expect(publisher.sent).toHaveLength(1);
    expect(publisher.sent[0].event.value).toMatchObject({ retriable: true, error: `Error: ${down.message}`, offset: '17' });
    expect(await registry.getSingleMetricAsString('dead')).toContain('dead{topic="payment-successful",retriable="true",reason="retries_exhausted"} 1');
  });

  it("keeps the service's passwords out of the letter's error", async () => {
    const { interceptor, context, publisher } = setup();
    const quoting = new PoisonMessageError('rejected by postgres://app:pa55word@db/shop');
    await expect(lastValueFrom(interceptor.intercept(context, { handle: () => throwError(() => quoting) }))).resolves.toBeNull();
    expect((publisher.sent[0].event.value as DeadLetterRecord).error).toBe('PoisonMessageError: rejected by postgres://app:***@db/shop');
  });

  describe('inside the consume loop (a record scope, as every record the server hands over has)', () => {
    it('hands an outage to the loop, which retries the record after a backoff, and gives Nest a value instead of an error', async () => {
      const { interceptor, context, publisher } = setup();
      const scope = new RecordScope(true);
      const down = new Error('relation "orders.orders" does not exist');
      const handled = runInRecordScope(scope, () => lastValueFrom(interceptor.intercept(context, { handle: () => throwError(() => down) })));
      await expect(handled).resolves.toBeNull();
      expect(scope.failure).toEqual({ error: down });
      expect(publisher.sent).toEqual([]);
    });

    it('drops what a bad record\'s handler staged before it failed: the record leaves with its letter only', async () => {
      const { interceptor, context, publisher } = setup();
      const scope = new RecordScope(true);
      const handler = defer(() => {
        // The handler announced its order, then found the record bad.
        scope.staged.push({ topic: 'order-created', events: [{ key: '42', value: { order_id: 'o-1' } }] });
        return throwError(() => new PoisonMessageError('bad user_id'));
      });
      const handled = runInRecordScope(scope, () => lastValueFrom(interceptor.intercept(context, { handle: () => handler })));
      await expect(handled).resolves.toBeNull();
      expect(scope.failure).toBeUndefined();
      expect(scope.staged).toEqual([]);
      expect(publisher.sent.map((s) => s.topic)).toEqual(['dlq-payment']);
    });
  });

  it('fails (and so redelivers) when the DLQ itself cannot be written', async () => {
    const { interceptor, context, publisher } = setup();
    publisher.failWith = new Error('broker gone');
    await expect(lastValueFrom(interceptor.intercept(context, { handle: () => throwError(() => new PoisonMessageError('x')) }))).rejects.toThrow('broker gone');
  });
});
