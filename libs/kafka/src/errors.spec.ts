import { KafkaJSConnectionError, KafkaJSNonRetriableError } from 'kafkajs';
import { ContractViolation } from '@app/contracts';
import { isTransientError, PoisonMessageError } from './errors';

describe('isTransientError', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['PostgreSQL shutting down', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['a deadlock', Object.assign(new Error('deadlock detected'), { code: '40P01' })],
    ['too many connections', Object.assign(new Error('too many clients'), { code: '53300' })],
    ['a lost connection', new Error('Connection terminated unexpectedly')],
    ['a broker connection error', new KafkaJSConnectionError('Connection error')],
    ['a mail server that cannot be reached', Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' })],
    ['an SMTP "try again later"', Object.assign(new Error('451 greylisted'), { code: 'EENVELOPE', responseCode: 451 })],
    ['a database gone read-only in a failover', Object.assign(new Error('read-only transaction'), { code: '25006' })],
  ])('redelivers after %s', (_, error) => {
    expect(isTransientError(error)).toBe(true);
  });

  it.each([
    ['poison', new PoisonMessageError('not JSON')],
    ['a contract violation', new ContractViolation('X', [])],
    ['a value the column refuses', Object.assign(new Error('numeric field overflow'), { code: '22003' })],
    ['an SMTP refusal for good', Object.assign(new Error('550 no such user'), { code: 'EENVELOPE', responseCode: 550 })],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a non-retriable broker error', new KafkaJSNonRetriableError('bad')],
    ['a thrown string', 'boom'],
  ])('dead-letters %s', (_, error) => {
    expect(isTransientError(error)).toBe(false);
  });
});
