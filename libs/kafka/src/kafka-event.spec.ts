import { ContractViolation, INPUT_LIMITS, PaymentSuccessfulEvent, settlePayment, UnreadableRecord } from '@app/contracts';
import { readRecord, recordId } from './kafka-event';
import { PoisonMessageError } from './consume/failure-policy';

describe('readRecord', () => {
  const valid = { user_id: 1, cart: [{ name: 'a', price: 1 }], timestamp: 1 };
  const read = (value: unknown) => () => readRecord(PaymentSuccessfulEvent, value);

  it('decodes and validates JSON bytes, and settles the event with the record it came in', () => {
    expect(readRecord(PaymentSuccessfulEvent, Buffer.from(JSON.stringify(valid)))).toBeInstanceOf(PaymentSuccessfulEvent);
    const settled = readRecord(PaymentSuccessfulEvent, Buffer.from(JSON.stringify(valid)), { id: 'r-1', timestamp: '1', settle: settlePayment });
    expect(settled).toMatchObject({ payment_id: 'r-1', amount: 1 });
  });

  it('calls a tombstone, invalid JSON, bytes that are not UTF-8 and an oversized value poison', () => {
    expect(read(null)).toThrow(PoisonMessageError);
    expect(read(Buffer.from('{"user_id": 1,'))).toThrow(/not valid JSON/);
    const text = JSON.stringify({ ...valid, cart: [{ name: 'TV__', price: 1 }] });
    const latin1 = Buffer.from(text, 'utf8');
    latin1[latin1.indexOf('__')] = 0xe9; // "é" as Latin-1: a byte UTF-8 never has alone
    expect(read(latin1)).toThrow(new PoisonMessageError('the value is not valid UTF-8'));
    const padded = Buffer.from(JSON.stringify({ ...valid, pad: ' '.repeat(INPUT_LIMITS.recordBytes) }));
    expect(read(padded)).toThrow(/more than the 131072 an event may have/);
  });

  it('rejects JSON that is not the contract', () => {
    expect(read(Buffer.from('"text"'))).toThrow(/must be a JSON object/);
    expect(read(Buffer.from('{"user_id": 1}'))).toThrow(/cart/);
  });

  it('refuses a cart nested 5,000 levels deep as a contract violation, at once (class-transformer overflowed its stack on it)', () => {
    const cart = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    expect(read(Buffer.from(`{"user_id": 1, "cart": ${cart}, "timestamp": 1}`))).toThrow(ContractViolation);
    expect(read(Buffer.from(`{"user_id": 1, "cart": ${cart}, "timestamp": 1}`))).toThrow(/cart is nested too deeply/);
  });

  it('refuses a list inside the cart (its amount came out NaN)', () => {
    const nested = { ...valid, cart: [[{ name: 'Nested', price: 10, quantity: 1 }]] };
    expect(read(Buffer.from(JSON.stringify(nested)))).toThrow('PaymentSuccessfulEvent is invalid: cart.0 must be an object');
  });

  it('turns any other failure while reading into UnreadableRecord, the record being at fault', () => {
    const settle = () => {
      throw new RangeError('Invalid time value');
    };
    const reading = () => readRecord(PaymentSuccessfulEvent, Buffer.from(JSON.stringify(valid)), { id: 'r-1', timestamp: '1', settle });
    expect(reading).toThrow(UnreadableRecord);
    expect(reading).toThrow('reading the record as PaymentSuccessfulEvent failed: RangeError: Invalid time value');
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
