import type { KafkaMessage } from 'kafkajs';
import { currentCorrelation } from '@app/platform';
import { currentRecordScope } from './record-scope';
import { RecordRunner, type RecordPlace } from './record-runner';

const place = (offset = '7'): RecordPlace => ({
  topic: 'payment-successful',
  partition: 2,
  message: { offset, key: Buffer.from('42'), value: Buffer.from('{}'), timestamp: '0', attributes: 0, headers: { 'x-request-id': Buffer.from('req-1') } } as KafkaMessage,
});

describe('RecordRunner', () => {
  it('says a record was done, with the events its handler staged in a transaction, and runs it in its scope and correlation', async () => {
    let seen: unknown;
    const runner = new RecordRunner(async () => {
      seen = currentCorrelation();
      currentRecordScope()!.staged.push({ topic: 'order-created', events: [{ key: '42', value: { a: 1 } }] });
    }, true);
    expect(await runner.run(place())).toEqual({ kind: 'done', staged: [{ topic: 'order-created', events: [{ key: '42', value: { a: 1 } }] }] });
    expect(seen).toMatchObject({ source: 'kafka', request_id: 'req-1', topic: 'payment-successful', partition: 2, offset: '7' });
  });

  it('says a record was dead-lettered when the interceptor parked it', async () => {
    const runner = new RecordRunner(async () => {
      currentRecordScope()!.deadLettered = true;
    }, false);
    expect(await runner.run(place())).toEqual({ kind: 'dead-lettered', staged: [] });
  });

  it('says a record failed, with the error, whether the interceptor handed it over or the pipeline threw', async () => {
    const outage = new Error('database down');
    const handedOver = new RecordRunner(async () => {
      currentRecordScope()!.failure = { error: outage };
    }, false);
    expect(await handedOver.run(place())).toEqual({ kind: 'failed', error: outage });
    const thrown = new RecordRunner(async () => {
      throw outage;
    }, false);
    expect(await thrown.run(place())).toEqual({ kind: 'failed', error: outage });
  });

  it('gives every run a scope of its own: staging only in a transaction', async () => {
    const scopes: Array<{ transactional: boolean } | undefined> = [];
    const handle = async () => void scopes.push(currentRecordScope());
    await new RecordRunner(handle, true).run(place('1'));
    await new RecordRunner(handle, false).run(place('2'));
    expect(scopes.map((s) => s?.transactional)).toEqual([true, false]);
    expect(scopes[0]).not.toBe(scopes[1]);
  });
});
