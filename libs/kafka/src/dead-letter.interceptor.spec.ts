import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { KafkaContext } from '@nestjs/microservices';
import { Counter, Histogram, Registry } from 'prom-client';
import { lastValueFrom, of, throwError } from 'rxjs';
import type { DeadLetterRecord } from '@app/contracts';
import { ServiceIdentity } from '@app/platform';
import { ConsumerGroup, DeadLetterInterceptor } from './dead-letter.interceptor';
import { PoisonMessageError } from './errors';
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

function setup() {
  const registry = new Registry();
  const publisher = new RecordingPublisher();
  const interceptor = new DeadLetterInterceptor(
    publisher,
    new ConsumerGroup('order-service-group'),
    new ServiceIdentity('order', '2'),
    new Counter({ name: 'consumed', help: 'h', labelNames: ['topic', 'outcome'], registers: [registry] }),
    new Counter({ name: 'dead', help: 'h', labelNames: ['topic'], registers: [registry] }),
    new Histogram({ name: 'seconds', help: 'h', labelNames: ['topic'], registers: [registry] }),
  );
  const value = Buffer.from('{"user_id": "bad"}');
  const message = { key: '42', value, offset: '17', headers: {}, timestamp: '0', attributes: 0, size: 0 };
  const kafka = new KafkaContext([message as never, 1, 'payment-successful', null as never, async () => undefined, null as never]);
  const context = new ExecutionContextHost([value, kafka]);
  context.setType('rpc');
  return { registry, publisher, interceptor, context };
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
      original_key: '42',
      truncated: false,
      error: 'PoisonMessageError: bad user_id',
      topic: 'payment-successful',
      partition: 1,
      offset: '17',
      group: 'order-service-group',
      instance_id: '2',
    });
    expect(await registry.getSingleMetricAsString('dead')).toContain('dead{topic="payment-successful"} 1');
  });

  it('rethrows an infrastructure failure so the message is redelivered, not dead-lettered', async () => {
    const { interceptor, context, publisher } = setup();
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    await expect(lastValueFrom(interceptor.intercept(context, { handle: () => throwError(() => down) }))).rejects.toBe(down);
    expect(publisher.sent).toEqual([]);
  });

  it('fails (and so redelivers) when the DLQ itself cannot be written', async () => {
    const { interceptor, context, publisher } = setup();
    publisher.failWith = new Error('broker gone');
    await expect(lastValueFrom(interceptor.intercept(context, { handle: () => throwError(() => new PoisonMessageError('x')) }))).rejects.toThrow('broker gone');
  });
});
