import { PaymentSuccessfulEvent } from '@app/contracts';
import { decodeRecordValue, recordId } from './kafka-event';
import { PoisonMessageError } from './consume/failure-policy';

describe('decodeRecordValue', () => {
  const valid = { user_id: 1, cart: [{ name: 'a', price: 1 }], timestamp: 1 };

  it('decodes and validates JSON bytes', () => {
    expect(decodeRecordValue(PaymentSuccessfulEvent, Buffer.from(JSON.stringify(valid)))).toBeInstanceOf(PaymentSuccessfulEvent);
  });

  it('calls a tombstone and invalid JSON poison', () => {
    expect(() => decodeRecordValue(PaymentSuccessfulEvent, null)).toThrow(PoisonMessageError);
    expect(() => decodeRecordValue(PaymentSuccessfulEvent, Buffer.from('{"user_id": 1,'))).toThrow(/not valid JSON/);
  });

  it('rejects JSON that is not the contract', () => {
    expect(() => decodeRecordValue(PaymentSuccessfulEvent, Buffer.from('"text"'))).toThrow(/must be a JSON object/);
    expect(() => decodeRecordValue(PaymentSuccessfulEvent, Buffer.from('{"user_id": 1}'))).toThrow(/cart/);
  });
});

describe('recordId', () => {
  const record = { topic: 'payment-successful', partition: 2, offset: '41', key: null, timestamp: '1764000000000' };

  it('is the same for a redelivery of a record, and names its place and time', () => {
    expect(recordId(record)).toBe(recordId({ ...record }));
    expect(recordId(record)).toBe('payment-successful:2:41@1764000000000');
  });

  it('differs for a record at the same place of a topic deleted and created again, whose offsets started over', () => {
    expect(recordId({ ...record, timestamp: '1764000360000' })).not.toBe(recordId(record));
  });
});
