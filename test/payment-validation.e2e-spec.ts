import { MAX_CART_ITEMS, MAX_PRICE, MAX_QUANTITY, TOPICS } from '@app/contracts';
import { urlOf } from './support/environment';
import { freshUserId, ordersArriving, payment } from './support/http';
import { endOffsetSum } from './support/kafka';

const item = { name: 'iPhone 15 Pro', price: 999, quantity: 1 };
const JSON_TYPE = 'application/json';

/** What a test reads of an answer; supertest's responses have it too. */
interface Answer {
  status: number;
  body: any;
}

/**
 * Posts a body exactly as given (bytes or text), with this Content-Type. With fetch: superagent would write
 * a Buffer sent as JSON as `{"type":"Buffer","data":[…]}`.
 */
async function postRaw(body: string | Buffer, contentType: string | null = JSON_TYPE, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${urlOf('payment')}/payment`, {
    method: 'POST',
    headers: { ...(contentType === null ? {} : { 'content-type': contentType }), ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Runs a request that must be refused, and checks that the payment topic did not grow meanwhile. */
async function refusedWithoutPublishing(send: () => PromiseLike<Answer>): Promise<Answer> {
  const before = await endOffsetSum(TOPICS.paymentSuccessful);
  const response = await send();
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  expect(await endOffsetSum(TOPICS.paymentSuccessful)).toBe(before);
  return response;
}

const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('POST /payment with bad fields', () => {
  const cases: Array<[string, unknown, Record<string, string>]> = [
    ['a missing user_id', { cart: [item] }, { user_id: 'user_id is required' }],
    ['a null user_id', { user_id: null, cart: [item] }, { user_id: 'user_id is required' }],
    ['a user_id of the wrong type', { user_id: '42', cart: [item] }, { user_id: 'user_id must be a whole number' }],
    ['a user_id below 1', { user_id: 0, cart: [item] }, { user_id: 'user_id must be at least 1' }],
    ['a user_id beyond a PostgreSQL integer', { user_id: 2 ** 31, cart: [item] }, { user_id: 'user_id must be at most 2147483647' }],
    ['a missing cart', { user_id: 1 }, { cart: 'cart is required' }],
    ['an empty cart', { user_id: 1, cart: [] }, { cart: 'cart must not be empty' }],
    ['a cart that is not a list', { user_id: 1, cart: 'MacBook' }, { cart: 'cart must be a list of items' }],
    ['a cart that is one item, not a list', { user_id: 1, cart: { name: 'MacBook' } }, { cart: 'cart must be a list of items' }],
    ['a cart of 101 items', { user_id: 1, cart: Array.from({ length: MAX_CART_ITEMS + 1 }, () => item) }, { cart: 'cart must have at most 100 items' }],
    ['an item that is not an object', { user_id: 1, cart: [42] }, { 'cart.0': 'cart.0 must be an object' }],
    ['a negative price', { user_id: 1, cart: [{ ...item, price: -5 }] }, { 'cart.0.price': 'cart.0.price must be a positive number' }],
    ['a zero price', { user_id: 1, cart: [{ ...item, price: 0 }] }, { 'cart.0.price': 'cart.0.price must be a positive number' }],
    ['a price given as text', { user_id: 1, cart: [{ ...item, price: '999' }] }, { 'cart.0.price': 'cart.0.price must be a number' }],
    ['a price with three decimals', { user_id: 1, cart: [{ ...item, price: 19.999 }] }, { 'cart.0.price': 'cart.0.price must have at most 2 decimals' }],
    ['a price of 1e-7 (no decimal point, seven decimals)', { user_id: 1, cart: [{ ...item, price: 1e-7 }] }, { 'cart.0.price': 'cart.0.price must have at most 2 decimals' }],
    ['a price above the maximum', { user_id: 1, cart: [{ ...item, price: MAX_PRICE + 0.01 }] }, { 'cart.0.price': 'cart.0.price must be at most 1000000' }],
    ['a fractional quantity', { user_id: 1, cart: [{ ...item, quantity: 1.5 }] }, { 'cart.0.quantity': 'cart.0.quantity must be a whole number' }],
    ['a zero quantity', { user_id: 1, cart: [item, { ...item, quantity: 0 }] }, { 'cart.1.quantity': 'cart.1.quantity must be at least 1' }],
    ['a quantity given as text', { user_id: 1, cart: [{ ...item, quantity: '2' }] }, { 'cart.0.quantity': 'cart.0.quantity must be a whole number' }],
    ['a missing name', { user_id: 1, cart: [{ price: 1, quantity: 1 }] }, { 'cart.0.name': 'cart.0.name is required' }],
    ['an empty name', { user_id: 1, cart: [{ ...item, name: '' }] }, { 'cart.0.name': 'cart.0.name must not be empty' }],
    ['a name of 101 characters', { user_id: 1, cart: [{ ...item, name: 'x'.repeat(101) }] }, { 'cart.0.name': 'cart.0.name must be at most 100 characters long' }],
    ['a name with a NUL character', { user_id: 1, cart: [{ ...item, name: 'TV\u0000' }] }, { 'cart.0.name': 'cart.0.name must not contain the NUL character (\\u0000)' }],
    ['a name with a lone high surrogate', { user_id: 1, cart: [{ ...item, name: 'TV \ud800' }] }, { 'cart.0.name': 'cart.0.name must not contain half of a UTF-16 surrogate pair (such as \\ud800)' }],
    ['a name with a lone low surrogate', { user_id: 1, cart: [{ ...item, name: '\udc00TV' }] }, { 'cart.0.name': 'cart.0.name must not contain half of a UTF-16 surrogate pair (such as \\ud800)' }],
    [
      'several faults at once',
      { user_id: -1, cart: [{ name: '', price: -1, quantity: 'x' }] },
      {
        user_id: 'user_id must be at least 1',
        'cart.0.name': 'cart.0.name must not be empty',
        'cart.0.price': 'cart.0.price must be a positive number',
        'cart.0.quantity': 'cart.0.quantity must be a whole number',
      },
    ],
  ];

  it.each(cases)('rejects %s with 400 naming one problem per field, and publishes nothing', async (_, body, problems) => {
    const response = await refusedWithoutPublishing(() => payment().post('/payment').send(body as object));
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request', message: `Validation failed: ${Object.keys(problems).join(', ')}` });
    expect(response.body.errors).toEqual(Object.entries(problems).map(([field, message]) => ({ field, messages: [message] })));
  });
});

describe('POST /payment with numbers JSON writes but JavaScript or PostgreSQL cannot hold', () => {
  const cases: Array<[string, string, Record<string, string>]> = [
    ['a price of 1e400 (Infinity once parsed)', '{"user_id":1,"cart":[{"name":"TV","price":1e400}]}', { 'cart.0.price': 'cart.0.price must be a number' }],
    ['a price of -0', '{"user_id":1,"cart":[{"name":"TV","price":-0}]}', { 'cart.0.price': 'cart.0.price must be a positive number' }],
    ['a user_id of -0', '{"user_id":-0,"cart":[{"name":"TV","price":1}]}', { user_id: 'user_id must be at least 1' }],
    ['a quantity of -0', '{"user_id":1,"cart":[{"name":"TV","price":1,"quantity":-0}]}', { 'cart.0.quantity': 'cart.0.quantity must be at least 1' }],
    ['a 30-digit user_id', '{"user_id":123456789012345678901234567890,"cart":[{"name":"TV","price":1}]}', { user_id: 'user_id must be at most 2147483647' }],
    ['a quantity of 2^53 + 1', '{"user_id":1,"cart":[{"name":"TV","price":1,"quantity":9007199254740993}]}', { 'cart.0.quantity': 'cart.0.quantity must be at most 1000' }],
    ['a user_id of 1e400', '{"user_id":1e400,"cart":[{"name":"TV","price":1}]}', { user_id: 'user_id must be a whole number' }],
    // Both were once answered 200 with an amount of null or 0, and no order followed: a payment accepted, then lost.
    ['a cart line that is a list', '{"user_id":1,"cart":[[{"name":"Nested","price":10,"quantity":1}]]}', { 'cart.0': 'cart.0 must be an object' }],
    ['a quantity of null', '{"user_id":1,"cart":[{"name":"TV","price":10,"quantity":null}]}', { 'cart.0.quantity': 'cart.0.quantity is required' }],
    ['a field named __proto__', '{"user_id":1,"cart":[{"name":"TV","price":10,"__proto__":{"price":0}}]}', { cart: 'cart has a field named __proto__, which is not allowed' }],
  ];

  it.each(cases)('rejects %s with 400 naming the field', async (_, body, problems) => {
    const response = await refusedWithoutPublishing(() => postRaw(body));
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual(Object.entries(problems).map(([field, message]) => ({ field, messages: [message] })));
  });
});

describe('POST /payment with bodies that are not a payment at all', () => {
  const tooDeep = (field: string, what = field) => ({ errors: [{ field, messages: [`${what} is nested too deeply (more than 8 levels of lists and objects)`] }] });
  const cases: Array<[string, () => PromiseLike<Answer>, number, object]> = [
    ['a cart nested 10,000 lists deep', () => postRaw(`{"user_id":1,"cart":${nested(10_000)}}`), 400, tooDeep('cart')],
    ['a user_id nested 10,000 lists deep', () => postRaw(`{"user_id":${nested(10_000)},"cart":[]}`), 400, tooDeep('user_id')],
    ['a name nested 10,000 objects deep', () => postRaw(`{"user_id":1,"cart":[{"price":1,"name":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}]}`), 400, tooDeep('cart')],
    ['an unknown field nested 10,000 objects deep', () => postRaw(`{"user_id":1,"cart":[{"name":"TV","price":1}],"x":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`), 400, tooDeep('x')],
    ['a body of 10,000 nested lists', () => postRaw(nested(10_000)), 400, tooDeep('(root)', 'the body')],
    ['a body of 40,000 nested lists (over the size limit)', () => postRaw(nested(40_000)), 413, { message: 'The body is larger than 64kb' }],
    ['invalid JSON', () => postRaw('{"user_id": 1, "cart": ['), 400, { message: expect.stringMatching(/^The body is not valid JSON: /) }],
    ['JSON null', () => postRaw('null'), 400, { message: 'The body must be a JSON object' }],
    ['a JSON number', () => postRaw('42'), 400, { message: 'The body must be a JSON object' }],
    ['a JSON list', () => postRaw('[1]'), 400, { errors: [{ field: 'user_id', messages: ['user_id is required'] }, { field: 'cart', messages: ['cart is required'] }] }],
    ['an empty JSON body', () => postRaw(''), 400, { errors: [{ field: 'user_id', messages: ['user_id is required'] }, { field: 'cart', messages: ['cart is required'] }] }],
    ['bytes that are not UTF-8', () => postRaw(Buffer.from('{"user_id":1,"cart":[{"name":"TV \xff\xfe","price":1}]}', 'latin1')), 400, { message: 'The body is not valid UTF-8' }],
    ['JSON declared as latin1', () => postRaw(Buffer.from('{"user_id":1,"cart":[{"name":"Télé","price":1}]}', 'latin1'), `${JSON_TYPE}; charset=latin1`), 415, { message: 'The charset LATIN1 is not supported: send JSON in UTF-8' }],
    ['JSON declared in a charset nobody knows', () => postRaw('{}', `${JSON_TYPE}; charset=klingon`), 415, { message: 'The charset KLINGON is not supported: send JSON in UTF-8' }],
    ['JSON sent as text/plain', () => postRaw(JSON.stringify({ user_id: 1, cart: [item] }), 'text/plain'), 415, { message: 'The body must be JSON sent with Content-Type: application/json, not text/plain' }],
    ['a body without a Content-Type', () => postRaw(Buffer.from(JSON.stringify({ user_id: 1, cart: [item] })), null), 415, { message: 'The body must be JSON sent with Content-Type: application/json' }],
    ['a Content-Encoding nobody knows', () => postRaw('{}', JSON_TYPE, { 'content-encoding': 'klingon' }), 415, { error: 'Unsupported Media Type', message: 'unsupported content encoding "klingon"' }],
    ['a form', () => postRaw('user_id=1&cart[0][name]=TV&cart[0][price]=1', 'application/x-www-form-urlencoded'), 415, { statusCode: 415, error: 'Unsupported Media Type' }],
    ['a body over the size limit', () => payment().post('/payment').send({ user_id: 1, cart: Array.from({ length: 2000 }, () => ({ ...item, name: 'x'.repeat(90) })) }), 413, { statusCode: 413, error: 'Payload Too Large' }],
  ];

  it.each(cases)('answers %s with a 4xx saying what is wrong, and publishes nothing', async (_, send, status, body) => {
    const response = await refusedWithoutPublishing(send);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ statusCode: status, ...body });
  });
});

describe('POST /payment with a good payment', () => {
  it("answers 200 with the course's body: the cart as accepted, quantities filled in, and names with quotes", async () => {
    const userId = freshUserId();
    const response = await payment()
      .post('/payment')
      .send({ user_id: userId, cart: [{ name: 'Samsung TV 65"', price: 899 }, { name: 'AirPods Pro', price: 249.5, quantity: 2 }], coupon: 'ignored' })
      .expect(200);
    expect(response.body).toEqual({
      status: 'success',
      message: 'Payment accepted',
      user_id: userId,
      cart: [{ name: 'Samsung TV 65"', price: 899, quantity: 1 }, { name: 'AirPods Pro', price: 249.5, quantity: 2 }],
      payment_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      amount: 1398,
    });
  });

  it('takes JSON in UTF-16, and stores the text as sent', async () => {
    const userId = freshUserId();
    const body = Buffer.from(`\ufeff${JSON.stringify({ user_id: userId, cart: [{ name: 'Télé 😀', price: 1 }] })}`, 'utf16le');
    const response = await postRaw(body, `${JSON_TYPE}; charset=utf-16`);
    expect(response.status).toBe(200);
    expect(response.body.cart).toEqual([{ name: 'Télé 😀', price: 1, quantity: 1 }]);
    const [order] = await ordersArriving(userId, 'the order of the UTF-16 payment');
    expect(order.items).toEqual([{ name: 'Télé 😀', price: 1, quantity: 1 }]);
  });

  it('makes the largest cart the contract allows into its order, with the total exact to the cent', async () => {
    const userId = freshUserId();
    // One product name for every line: analytics' top products is a shared view, and a hundred names would fill it.
    const cart = Array.from({ length: MAX_CART_ITEMS }, (_, i) => ({ name: 'Largest cart item', price: i === 0 ? MAX_PRICE - 0.01 : MAX_PRICE, quantity: MAX_QUANTITY }));
    const expected = MAX_PRICE * MAX_QUANTITY * MAX_CART_ITEMS - 0.01 * MAX_QUANTITY; // 99,999,999,990
    const response = await payment().post('/payment').send({ user_id: userId, cart }).expect(200);
    expect(response.body.amount).toBe(expected);
    const [order] = await ordersArriving(userId, 'the order of the largest cart');
    expect(order.total).toBe(expected);
  });
});
