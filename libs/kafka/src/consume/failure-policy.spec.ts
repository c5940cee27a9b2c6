import { KafkaJSConnectionError, KafkaJSNonRetriableError } from 'kafkajs';
import { ContractViolation } from '@app/contracts';
import { DataRejected } from '@app/platform';
import { DatabaseError } from 'pg';
import { FailurePolicy, PoisonMessageError } from './failure-policy';

const pgError = (code: string) => Object.assign(new DatabaseError('refused', 1, 'error'), { code });

describe('FailurePolicy', () => {
  const policy = new FailurePolicy(60_000);

  it.each([
    ['an undecodable record', new PoisonMessageError('not JSON')],
    ['a contract violation', new ContractViolation('X', [])],
    ['a value the column refuses (22003)', new DataRejected(pgError('22003'))],
    ['a unique violation (23505)', new DataRejected(pgError('23505'))],
  ])('dead-letters %s at once, as not retriable', (_, error) => {
    expect(policy.decide(error, undefined)).toEqual({ action: 'dead-letter', retriable: false });
  });

  it.each([
    ['a missing table (42P01)', pgError('42P01')],
    ['a permission (42501)', pgError('42501')],
    ['a statement timeout (57014)', pgError('57014')],
    ['a changed password (28P01)', pgError('28P01')],
    ['a read-only failover (25006)', pgError('25006')],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a mail server refusing the login', Object.assign(new Error('535 auth failed'), { code: 'EAUTH', responseCode: 535 })],
    ['an SMTP deferral', Object.assign(new Error('451 greylisted'), { code: 'EENVELOPE', responseCode: 451 })],
    ['a broker connection error', new KafkaJSConnectionError('Connection error')],
    ['a broker refusing', new KafkaJSNonRetriableError('refused')],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a thrown string', 'boom'],
  ])('retries %s', (_, error) => {
    expect(policy.decide(error, undefined)).toEqual({ action: 'retry' });
    expect(policy.decide(error, 1_000, 1_000 + 59_999)).toEqual({ action: 'retry' });
  });

  it('dead-letters a record as retriable once it has failed for longer than the bound', () => {
    const outage = pgError('42P01');
    expect(policy.decide(outage, 1_000, 61_000)).toEqual({ action: 'dead-letter', retriable: true });
  });
});
