import { requestHash } from './idempotency-keys';

describe('requestHash', () => {
  const cart = [{ name: 'TV', price: 10, quantity: 1 }];

  it('is the same for the same validated request, whatever order its fields came in', () => {
    expect(requestHash(1, [{ quantity: 1, price: 10.0, name: 'TV' }])).toBe(requestHash(1, cart));
  });

  it('differs for another user, another item, quantity or price, and another order of items', () => {
    const first = requestHash(1, cart);
    expect(requestHash(2, cart)).not.toBe(first);
    expect(requestHash(1, [{ ...cart[0], name: 'Radio' }])).not.toBe(first);
    expect(requestHash(1, [{ ...cart[0], quantity: 2 }])).not.toBe(first);
    expect(requestHash(1, [{ ...cart[0], price: 10.01 }])).not.toBe(first);
    const two = [cart[0], { name: 'Radio', price: 5, quantity: 1 }];
    expect(requestHash(1, [...two].reverse())).not.toBe(requestHash(1, two));
  });
});
