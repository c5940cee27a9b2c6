import { cartTotal } from './cart-item.dto';
import { PaymentRequestDto } from './payment-request.dto';
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
