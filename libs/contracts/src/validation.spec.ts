import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_PRICE, MAX_QUANTITY } from './cart-item.dto';
import { MAX_CART_ITEMS, PaymentRequestDto } from './payment-request.dto';
import { PaymentSuccessfulEvent } from './payment-successful.event';
import { ContractViolation, parseContract, type FieldError } from './validation';

function violation(contract: new () => object, plain: unknown): ContractViolation {
  try {
    parseContract(contract, plain);
  } catch (error) {
    if (error instanceof ContractViolation) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(plain)} was accepted`);
}

const problems = (contract: new () => object, plain: unknown): FieldError[] => violation(contract, plain).fields;
const item = { name: 'TV', price: 10 };

describe('validation messages', () => {
  it('name one problem per field, the first a person would fix, with its path', () => {
    expect(problems(PaymentRequestDto, { cart: [{ price: '12', quantity: 'two' }] })).toEqual([
      { field: 'user_id', messages: ['user_id is required'] },
      { field: 'cart.0.name', messages: ['cart.0.name is required'] },
      { field: 'cart.0.price', messages: ['cart.0.price must be a number'] },
      { field: 'cart.0.quantity', messages: ['cart.0.quantity must be a whole number'] },
    ]);
    expect(problems(PaymentRequestDto, { user_id: 0, cart: [{ name: '', price: -1, quantity: 1001 }] })).toEqual([
      { field: 'user_id', messages: ['user_id must be at least 1'] },
      { field: 'cart.0.name', messages: ['cart.0.name must not be empty'] },
      { field: 'cart.0.price', messages: ['cart.0.price must be a positive number'] },
      { field: 'cart.0.quantity', messages: ['cart.0.quantity must be at most 1000'] },
    ]);
    expect(problems(PaymentRequestDto, { user_id: 1, cart: 'TV' })).toEqual([{ field: 'cart', messages: ['cart must be a list of items'] }]);
    // An object where the list belongs is not then searched for an item's fields.
    expect(problems(PaymentRequestDto, { user_id: 1, cart: { length: 2 ** 32 - 1 } })).toEqual([{ field: 'cart', messages: ['cart must be a list of items'] }]);
    expect(problems(PaymentRequestDto, { user_id: 1, cart: [42] })).toEqual([{ field: 'cart.0', messages: ['cart.0 must be an object'] }]);
  });

  it('give the dead-letter reason as the same sentences', () => {
    expect(violation(PaymentSuccessfulEvent, { user_id: 1, cart: [{ name: 'a', price: 0 }] }).message).toBe(
      'PaymentSuccessfulEvent is invalid: timestamp is required; cart.0.price must be a positive number',
    );
  });
});

describe('what the stores can hold', () => {
  it('refuses text PostgreSQL cannot hold as it is: NUL, and half of a surrogate pair', () => {
    for (const name of ['TV\u0000', '\ud800', 'a\udc00b', '\udc00\ud800']) {
      expect(problems(PaymentRequestDto, { user_id: 1, cart: [{ ...item, name }] })).toEqual([
        { field: 'cart.0.name', messages: [expect.stringMatching(/^cart\.0\.name must not contain/)] },
      ]);
    }
    expect(parseContract(PaymentRequestDto, { user_id: 1, cart: [{ ...item, name: 'Télé 😀 "65"' }] }).cart[0].name).toBe('Télé 😀 "65"');
  });

  it('dead-letters an event with such text as a contract violation, before any database sees it', () => {
    const event = { payment_id: 'p\u0000', user_id: 1, cart: [{ name: 'TV\u0000', price: 1 }], timestamp: 1 };
    expect(problems(PaymentSuccessfulEvent, event).map((f) => f.field)).toEqual(['payment_id', 'cart.0.name']);
  });

  it('refuses prices a numeric(…, 2) column would round, whatever their notation', () => {
    for (const price of [1e-7, 0.001, 19.999, 0.1 + 0.2, 1.0000000001]) {
      expect(problems(PaymentRequestDto, { user_id: 1, cart: [{ ...item, price }] })).toEqual([
        { field: 'cart.0.price', messages: ['cart.0.price must have at most 2 decimals'] },
      ]);
    }
    for (const price of [0.01, 19.99, 1e2, 999_999.99, MAX_PRICE]) expect(() => parseContract(PaymentRequestDto, { user_id: 1, cart: [{ ...item, price }] })).not.toThrow();
  });

  it("keeps the largest cart's total within the orders table's total column", () => {
    const migrations = join(__dirname, '../../../apps/order/src/migrations');
    const sql = readdirSync(migrations).map((file) => readFileSync(join(migrations, file), 'utf8')).join('\n');
    const [, precision, scale] = /\btotal numeric\((\d+), (\d+)\)/.exec(sql) ?? [];
    expect(scale).toBe('2');
    expect(MAX_PRICE * MAX_QUANTITY * MAX_CART_ITEMS).toBeLessThan(10 ** (Number(precision) - Number(scale)));
  });
});
