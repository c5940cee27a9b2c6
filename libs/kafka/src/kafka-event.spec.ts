import { PaymentSuccessfulEvent } from '@app/contracts';
import { decodeRecordValue } from './kafka-event';
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
