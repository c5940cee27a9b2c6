import { TOPICS } from '@app/contracts';
import { endOffsetSum } from './support/kafka';
import { payment } from './support/http';

const item = { name: 'iPhone 15 Pro', price: 999, quantity: 1 };

describe('POST /payment with bad input', () => {
  const cases: Array<[string, unknown, string[]]> = [
    ['a missing user_id', { cart: [item] }, ['user_id']],
    ['a user_id of the wrong type', { user_id: '42', cart: [item] }, ['user_id']],
    ['a user_id below 1', { user_id: 0, cart: [item] }, ['user_id']],
    ['a missing cart', { user_id: 1 }, ['cart']],
    ['an empty cart', { user_id: 1, cart: [] }, ['cart']],
    ['a cart that is not a list', { user_id: 1, cart: 'MacBook' }, ['cart']],
    ['an item that is not an object', { user_id: 1, cart: [42] }, ['cart.0']],
    ['a negative price', { user_id: 1, cart: [{ ...item, price: -5 }] }, ['cart.0.price']],
    ['a zero price', { user_id: 1, cart: [{ ...item, price: 0 }] }, ['cart.0.price']],
    ['a price given as text', { user_id: 1, cart: [{ ...item, price: '999' }] }, ['cart.0.price']],
    ['a fractional quantity', { user_id: 1, cart: [{ ...item, quantity: 1.5 }] }, ['cart.0.quantity']],
    ['a zero quantity', { user_id: 1, cart: [item, { ...item, quantity: 0 }] }, ['cart.1.quantity']],
    ['a missing name', { user_id: 1, cart: [{ price: 1, quantity: 1 }] }, ['cart.0.name']],
    ['several faults at once', { user_id: -1, cart: [{ name: '', price: -1, quantity: 'x' }] }, ['user_id', 'cart.0.name', 'cart.0.price', 'cart.0.quantity']],
  ];

  it.each(cases)('rejects %s with 400 naming the fields, and publishes nothing', async (_, body, fields) => {
    const before = await endOffsetSum(TOPICS.paymentSuccessful);
    const response = await payment().post('/payment').send(body as object).expect(400);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(response.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([...fields].sort());
    for (const error of response.body.errors) expect(error.messages.length).toBeGreaterThan(0);
    expect(await endOffsetSum(TOPICS.paymentSuccessful)).toBe(before);
  });

  it('rejects malformed JSON with 400, not 500', async () => {
    const response = await payment().post('/payment').set('Content-Type', 'application/json').send('{"user_id": 1, "cart": [').expect(400);
    expect(response.body.statusCode).toBe(400);
    expect(response.body.message).toMatch(/JSON/);
  });

  it('rejects a body over the size limit with 413', async () => {
    const huge = { user_id: 1, cart: Array.from({ length: 2000 }, () => ({ ...item, name: 'x'.repeat(90) })) };
    await payment().post('/payment').send(huge).expect(413);
  });

  it('accepts an item without quantity as one, and names with quotes', async () => {
    const response = await payment()
      .post('/payment')
      .send({ user_id: 5, cart: [{ name: 'Samsung TV 65"', price: 899 }, { name: 'AirPods Pro', price: 249.5, quantity: 2 }] })
      .expect(201);
    expect(response.body.amount).toBe(1398);
  });
});
