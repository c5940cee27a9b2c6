import { cartTotal, MAX_PRICE, MAX_QUANTITY } from './cart-item.dto';
import { derivedUuid } from './derived-id';
import { EmailSentEvent, settleEmail } from './email-sent.event';
import { OrderCreatedEvent, settleOrder } from './order-created.event';
import { MAX_CART_ITEMS, MAX_USER_ID, PaymentRequestDto } from './payment-request.dto';
import { PaymentSuccessfulEvent, settlePayment } from './payment-successful.event';
import { ContractViolation, parseContract } from './validation';

function violationFields(contract: new () => object, plain: unknown): string[] {
  try {
    parseContract(contract, plain);
  } catch (error) {
    if (error instanceof ContractViolation) return error.fields.map((f) => f.field);
    throw error;
  }
  return [];
}

describe('the payment contracts', () => {
  it('accepts the course example and defaults a missing quantity to 1', () => {
    const request = parseContract(PaymentRequestDto, { user_id: 42, cart: [{ name: 'Samsung TV 65"', price: 899 }] });
    expect(request.cart[0]).toEqual({ name: 'Samsung TV 65"', price: 899, quantity: 1 });
  });

  it('names each bad field by its path', () => {
    expect(violationFields(PaymentRequestDto, { user_id: 1.5, cart: [{ name: 'a', price: 1 }, { name: '', price: 0, quantity: 2.5 }] }))
      .toEqual(['user_id', 'cart.1.name', 'cart.1.price', 'cart.1.quantity']);
    expect(violationFields(PaymentRequestDto, { user_id: 1, cart: Array.from({ length: 101 }, () => ({ name: 'a', price: 1 })) })).toEqual(['cart']);
    expect(violationFields(PaymentRequestDto, { user_id: 1, cart: [{ name: 'x'.repeat(101), price: 1 }] })).toEqual(['cart.0.name']);
    expect(violationFields(PaymentRequestDto, { user_id: 1, cart: [{ name: 'a', price: 1.001 }] })).toEqual(['cart.0.price']);
  });

  it('rejects values that are not objects, naming the root', () => {
    for (const value of [null, 'text', 42, [1]]) expect(violationFields(PaymentSuccessfulEvent, value)).toEqual(['(root)']);
  });

  it('sums carts in cents', () => {
    expect(cartTotal([{ name: 'a', price: 0.1, quantity: 1 }, { name: 'b', price: 0.2, quantity: 1 }] as never)).toBe(0.3);
    expect(cartTotal([{ name: 'a', price: 19.99, quantity: 3 }] as never)).toBe(59.97);
  });

  it('settles a minimal event with the record id and the cart total, and refuses a contradicting amount', () => {
    const minimal = parseContract(PaymentSuccessfulEvent, { user_id: 3, cart: [{ name: 'a', price: 2, quantity: 2 }], timestamp: 1 });
    expect(settlePayment(minimal, 'payment-successful:1:7')).toMatchObject({ payment_id: 'payment-successful:1:7', amount: 4 });
    const full = parseContract(PaymentSuccessfulEvent, { payment_id: 'p-1', user_id: 3, cart: [{ name: 'a', price: 2 }], amount: 2, timestamp: 1 });
    expect(settlePayment(full, 'unused').payment_id).toBe('p-1');
    const wrong = parseContract(PaymentSuccessfulEvent, { user_id: 3, cart: [{ name: 'a', price: 2 }], amount: 3, timestamp: 1 });
    expect(() => settlePayment(wrong, 'x')).toThrow(ContractViolation);
  });
});

describe('the size of what the chain writes', () => {
  // Inside a Kafka transaction, a record the broker refuses as too large would fail the slice it is in, with no
  // way to tell whose it was: the contracts must keep every event far below the broker's record limit instead.
  const BROKER_RECORD_LIMIT = 1_048_588; // message.max.bytes, Kafka's default
  const widest = (length: number) => '\u0001'.repeat(length); // JSON writes each as six bytes: \u0001

  it('keeps the largest order the payment contract allows under an eighth of the broker limit', () => {
    const payment = parseContract(PaymentSuccessfulEvent, {
      payment_id: widest(100),
      user_id: MAX_USER_ID,
      cart: Array.from({ length: MAX_CART_ITEMS }, () => ({ name: widest(100), price: MAX_PRICE, quantity: MAX_QUANTITY })),
      timestamp: 1_764_000_000,
    });
    const settled = settlePayment(payment, 'payment-successful:0:0');
    const order = parseContract(OrderCreatedEvent, {
      order_id: '6f1c1d3e-2b7a-4c1e-9d59-1f0a8b9c2d3e',
      payment_id: settled.payment_id,
      user_id: settled.user_id,
      items: settled.cart,
      total: settled.amount,
      status: 'confirmed',
      created_at: new Date(0).toISOString(),
      instance_id: widest(64),
    });
    const bytes = Buffer.byteLength(JSON.stringify(order));
    expect(bytes).toBeGreaterThan(MAX_CART_ITEMS * 600); // it really is the widest: six bytes per character of every name
    expect(bytes).toBeLessThan(BROKER_RECORD_LIMIT / 8);
  });
});

describe("the course services' smaller events", () => {
  const recordId = 'order-created:2:41@1764000000000';

  it('derive a name-based UUID (RFC 9562 version 5): the standard example, and one id per record', () => {
    const dns = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex');
    expect(derivedUuid('www.example.com', dns)).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(derivedUuid(`order:${recordId}`)).toBe(derivedUuid(`order:${recordId}`));
    expect(derivedUuid(`order:${recordId}`)).not.toBe(derivedUuid('order:order-created:2:41@1764000000001'));
  });

  it("settle an order of the course's shape from its record, and keep the project's own ids", () => {
    const course = parseContract(OrderCreatedEvent, { order_id: 1, user_id: 5, items: [{ name: 'PS5', price: 499.99 }, { name: 'Pad', price: 69.5, quantity: 2 }], status: 'confirmed' });
    expect(settleOrder(course, recordId, '1764000000000')).toMatchObject({
      order_id: derivedUuid(`order:${recordId}`),
      payment_id: recordId,
      total: 638.99,
      created_at: '2025-11-24T16:00:00.000Z',
      instance_id: 'unknown',
    });
    const own = parseContract(OrderCreatedEvent, {
      order_id: '6f1c1d3e-2b7a-4c1e-9d59-1f0a8b9c2d3e', payment_id: 'p-1', user_id: 5, items: [{ name: 'PS5', price: 10 }],
      total: 10, status: 'confirmed', created_at: '2026-01-01T00:00:00.000Z', instance_id: '2',
    });
    expect(settleOrder(own, recordId, '1764000000000')).toMatchObject({ order_id: '6f1c1d3e-2b7a-4c1e-9d59-1f0a8b9c2d3e', payment_id: 'p-1', created_at: '2026-01-01T00:00:00.000Z', instance_id: '2' });
  });

  it('refuse an order id that is neither a UUID nor a positive integer, and a total that contradicts the items', () => {
    for (const order_id of ['12', 'abc', 0, 1.5, -3]) {
      expect(violationFields(OrderCreatedEvent, { order_id, user_id: 5, items: [{ name: 'PS5', price: 1 }], status: 'confirmed' })).toEqual(['order_id']);
    }
    const contradicting = parseContract(OrderCreatedEvent, { order_id: 3, user_id: 5, items: [{ name: 'PS5', price: 1 }], total: 2, status: 'confirmed' });
    expect(() => settleOrder(contradicting, recordId, '0')).toThrow(ContractViolation);
  });

  it("settle an email of the course's shape with an id derived from its record", () => {
    const course = parseContract(EmailSentEvent, { user_id: 5, order_id: 1, email_to: 'user_5@example.com', subject: 'Confirmation de commande #1', status: 'sent' });
    expect(settleEmail(course, 'email-sent:0:3@1764000000000', '1764000000000')).toMatchObject({
      email_id: derivedUuid('email:email-sent:0:3@1764000000000'),
      order_id: 1,
      sent_at: '2025-11-24T16:00:00.000Z',
    });
  });
});
