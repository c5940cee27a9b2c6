import { TOPICS } from '@app/contracts';
import type { Producer } from 'kafkajs';
import { waitFor } from '../scripts/lib/wait';
import { CHAIN_DEADLINE_MS, emailsOf, freshUserId, ordersOf, payment, statistics, statisticsReaching } from './support/http';
import { chainQuiet, connectedProducer } from './support/kafka';

describe('redelivered and minimal events', () => {
  let producer: Producer;
  beforeAll(async () => {
    producer = await connectedProducer();
  });
  afterAll(() => producer.disconnect());

  it('turns a payment delivered three times into one order, one email, and one count', async () => {
    await chainQuiet();
    const before = await statistics();
    const userId = freshUserId();
    const event = { payment_id: `dup-${userId}`, user_id: userId, cart: [{ name: 'iPad Air', price: 599, quantity: 2 }], amount: 1198, timestamp: 1 };
    const message = { key: String(userId), value: JSON.stringify(event) };
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [message, message, message] });

    await waitFor(async () => (await emailsOf(userId)).length > 0, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the email' });
    await statisticsReaching({
      payments: before.total_payments + 1,
      orders: before.total_orders + 1,
      emails: before.total_emails + 1,
    });
    // Every delivery after the first re-announces the same order: let all of it drain, then count.
    await chainQuiet();
    const settled = await statistics();
    expect(await ordersOf(userId)).toHaveLength(1);
    expect(await emailsOf(userId)).toHaveLength(1);
    expect(settled.total_payments - before.total_payments).toBe(1);
    expect(settled.total_orders - before.total_orders).toBe(1);
    expect(settled.total_emails - before.total_emails).toBe(1);
    expect(settled.revenue - before.revenue).toBeCloseTo(1198, 2);
  });

  it('turns POST /payment retried with the same Idempotency-Key into one order', async () => {
    const userId = freshUserId();
    const key = `retry-${userId}`;
    const body = { user_id: userId, cart: [{ name: 'Nintendo Switch', price: 299 }] };
    for (let attempt = 0; attempt < 3; attempt++) {
      const accepted = await payment().post('/payment').set('Idempotency-Key', key).send(body).expect(201);
      expect(accepted.body.payment_id).toBe(key);
    }
    await waitFor(async () => (await ordersOf(userId)).length > 0, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the order' });
    await chainQuiet();
    expect(await ordersOf(userId)).toEqual([expect.objectContaining({ payment_id: key, total: 299 })]);
    await payment().post('/payment').set('Idempotency-Key', 'not a key!').send(body).expect(400);
  });

  it("takes the course flood tool's minimal shape, deriving the id from the record and the amount from the cart", async () => {
    const userId = freshUserId();
    const minimal = { user_id: userId, cart: [{ name: 'Xbox Series X', price: 499, quantity: 3 }], timestamp: Math.floor(Date.now() / 1000) };
    const [meta] = await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key: String(userId), value: JSON.stringify(minimal) }] });

    const [order] = await waitFor(async () => {
      const found = await ordersOf(userId);
      return found.length > 0 ? found : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the order of the minimal payment' });
    expect(order).toMatchObject({
      payment_id: `${TOPICS.paymentSuccessful}:${meta.partition}:${meta.baseOffset}`,
      total: 1497,
      items: [{ name: 'Xbox Series X', price: 499, quantity: 3 }],
    });
  });
});
