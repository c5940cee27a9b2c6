import { TOPICS } from '@app/contracts';
import type { Producer } from 'kafkajs';
import { waitFor } from '../scripts/lib/wait';
import { CHAIN_DEADLINE_MS, emailsOf, freshUserId, ordersArriving, ordersOf, payment, statistics, statisticsReaching } from './support/http';
import { chainQuiet, connectedProducer } from './support/kafka';
import { queryTestDatabase } from './support/database';
import { readTopics } from './support/topic-reader';

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

  it('keeps its running totals equal to a count over every event it recorded: each event, customer and unit once', async () => {
    await chainQuiet();
    const before = await statistics();
    // A returning customer (two payments) and a new one, buying one product, each payment delivered twice.
    const [returning, other] = [freshUserId(), freshUserId()];
    const product = `Totals probe ${returning}`;
    const payments = [
      { payment_id: `totals-${returning}-1`, user_id: returning, cart: [{ name: product, price: 10, quantity: 3 }], amount: 30, timestamp: 1 },
      { payment_id: `totals-${returning}-2`, user_id: returning, cart: [{ name: product, price: 10, quantity: 1 }], amount: 10, timestamp: 1 },
      { payment_id: `totals-${other}-1`, user_id: other, cart: [{ name: product, price: 10, quantity: 2 }, { name: 'Totals probe cable', price: 5, quantity: 1 }], amount: 25, timestamp: 1 },
    ];
    const messages = payments.map((p) => ({ key: String(p.user_id), value: JSON.stringify(p) }));
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [...messages, ...messages] });
    await statisticsReaching({ payments: before.total_payments + 3, orders: before.total_orders + 3, emails: before.total_emails + 3 });
    await chainQuiet();

    const after = await statistics();
    expect(after.total_payments - before.total_payments).toBe(3);
    expect(after.unique_users - before.unique_users).toBe(2);
    expect(Math.round((after.revenue - before.revenue) * 100)).toBe(6500);
    // The running totals and what a count over every event recorded gives, read in one snapshot: equal, for
    // every topic, every product the suites have sold so far and every second events arrived in.
    const [row] = await queryTestDatabase<Record<'kept' | 'counted' | 'kept_products' | 'counted_products' | 'kept_seconds' | 'counted_seconds', unknown>>(
      `SELECT
         (SELECT jsonb_object_agg(topic, jsonb_build_array(events, amount, users)) FROM analytics.topic_totals) AS kept,
         (SELECT jsonb_object_agg(topic, jsonb_build_array(n, amount, users))
            FROM (SELECT topic, count(*) AS n, coalesce(sum(amount), 0) AS amount,
                         CASE WHEN topic = $1 THEN count(DISTINCT user_id) ELSE 0 END AS users
                  FROM analytics.events GROUP BY topic) AS c) AS counted,
         (SELECT jsonb_object_agg(name, jsonb_build_array(quantity, revenue)) FROM analytics.product_sales) AS kept_products,
         (SELECT jsonb_object_agg(name, jsonb_build_array(quantity, revenue))
            FROM (SELECT item->>'name' AS name, sum((item->>'quantity')::int) AS quantity,
                         sum((item->>'price')::numeric * (item->>'quantity')::int) AS revenue
                  FROM analytics.events, jsonb_array_elements(items) AS item
                  WHERE topic = $1 GROUP BY 1) AS c) AS counted_products,
         (SELECT jsonb_object_agg(second || ' ' || topic, events) FROM analytics.event_seconds) AS kept_seconds,
         (SELECT jsonb_object_agg(second || ' ' || topic, n)
            FROM (SELECT date_trunc('second', received_at) AS second, topic, count(*) AS n FROM analytics.events GROUP BY 1, 2) AS c) AS counted_seconds`,
      [TOPICS.paymentSuccessful],
    );
    expect(row.kept).toEqual(row.counted);
    expect(row.kept_products).toEqual(row.counted_products);
    expect(row.kept_seconds).toEqual(row.counted_seconds);
    // What was compared holds this test's events.
    expect((row.counted_products as Record<string, unknown>)[product]).toEqual([6, 60]);
  });

  it("takes the course flood tool's minimal shape, deriving the id from the record and the amount from the cart", async () => {
    const userId = freshUserId();
    const minimal = { user_id: userId, cart: [{ name: 'Xbox Series X', price: 499, quantity: 3 }], timestamp: Math.floor(Date.now() / 1000) };
    const writtenAt = String(Date.now());
    const [meta] = await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key: String(userId), value: JSON.stringify(minimal), timestamp: writtenAt }] });

    const [order] = await ordersArriving(userId, 'the order of the minimal payment');
    expect(order).toMatchObject({
      // The record's place and time: unique even after the topic is recreated and its offsets start over.
      payment_id: `${TOPICS.paymentSuccessful}:${meta.partition}:${meta.baseOffset}@${writtenAt}`,
      total: 1497,
      items: [{ name: 'Xbox Series X', price: 499, quantity: 3 }],
    });
  });
});

/** The payment-successful records of these users, read from the topic's beginning to its end. */
async function publishedFor(...userIds: number[]): Promise<Array<{ payment_id: string; user_id: number; cart: unknown }>> {
  const found: Array<{ payment_id: string; user_id: number; cart: unknown }> = [];
  const seen = await readTopics([TOPICS.paymentSuccessful], (_, message) => {
    if (!userIds.map(String).includes(String(message.key))) return;
    found.push(JSON.parse(String(message.value)));
  });
  // Whatever it found, the reader has seen the topic: at least the records of this suite are on it.
  expect(seen).toBeGreaterThan(0);
  return found;
}

describe('POST /payment with an Idempotency-Key', () => {
  const cart = [{ name: 'Nintendo Switch', price: 299 }];
  const send = (key: string, body: object) => payment().post('/payment').set('Idempotency-Key', key).send(body);
  const refusedKey = (key: string) => send(key, { user_id: freshUserId(), cart }).expect(400);

  it('answers a retry with the same key and body with the first answer, and publishes it once', async () => {
    const userId = freshUserId();
    const key = `retry-${userId}`;
    const first = await send(key, { user_id: userId, cart }).expect(200);
    expect(first.body).toMatchObject({ status: 'success', user_id: userId, payment_id: expect.stringMatching(/^[0-9a-f-]{36}$/), amount: 299 });
    // The same request as validated: fields in another order, the default quantity spelled out, an unknown field.
    const retries = [
      await send(key, { user_id: userId, cart }).expect(200),
      await send(key, { cart: [{ quantity: 1, price: 299.0, name: 'Nintendo Switch' }], user_id: userId, note: 'again' }).expect(200),
    ];
    for (const retry of retries) expect(retry.body).toEqual(first.body);

    await waitFor(async () => (await ordersOf(userId)).length > 0, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the order' });
    expect(await publishedFor(userId)).toEqual([expect.objectContaining({ payment_id: first.body.payment_id, user_id: userId })]);
    await chainQuiet();
    expect(await ordersOf(userId)).toEqual([expect.objectContaining({ payment_id: first.body.payment_id, total: 299 })]);
  });

  it('refuses the same key with another user or another cart with 422, and publishes neither', async () => {
    const [userId, otherUser] = [freshUserId(), freshUserId()];
    const key = `taken-${userId}`;
    const first = await send(key, { user_id: userId, cart }).expect(200);
    for (const body of [
      { user_id: otherUser, cart },
      { user_id: userId, cart: [{ ...cart[0], quantity: 2 }] },
      { user_id: userId, cart: [...cart, { name: 'Zelda', price: 69.99 }] },
    ]) {
      const refused = await send(key, body).expect(422);
      expect(refused.body).toEqual({
        statusCode: 422,
        error: 'Unprocessable Entity',
        message: `Idempotency-Key ${key} was already used for another payment (another user or cart): send a new payment with a new key`,
      });
    }
    // The key still stands for the first payment.
    expect((await send(key, { user_id: userId, cart }).expect(200)).body.payment_id).toBe(first.body.payment_id);
    expect(await publishedFor(userId, otherUser)).toEqual([expect.objectContaining({ payment_id: first.body.payment_id, user_id: userId, cart: [{ ...cart[0], quantity: 1 }] })]);
  });

  it('lets one of two bodies racing with one key through, and publishes only that one', async () => {
    const users = [freshUserId(), freshUserId()];
    const key = `race-${users[0]}`;
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(key, { user_id: users[i % 2], cart })));
    const accepted = answers.filter((a) => a.status === 200);
    expect(accepted.length).toBeGreaterThan(0);
    const winner = accepted[0].body;
    for (const answer of answers) {
      if (answer.status === 200) expect(answer.body).toEqual(winner);
      else expect(answer.status).toBe(422);
    }
    // Every request with the winner's body was answered as it: the 422s are exactly the other body's five.
    expect(accepted).toHaveLength(5);
    const published = await publishedFor(...users);
    // Requests with the winning body that ran beside the first may publish it again: the same payment, one order.
    expect(published.length).toBeGreaterThan(0);
    for (const record of published) expect(record).toMatchObject({ payment_id: winner.payment_id, user_id: winner.user_id });
    await waitFor(async () => (await ordersOf(winner.user_id)).length > 0, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the order of the winner' });
    await chainQuiet();
    expect(await ordersOf(winner.user_id)).toHaveLength(1);
  });

  it('lets a key older than 24 hours make a new payment', async () => {
    const [userId, laterUser] = [freshUserId(), freshUserId()];
    const key = `expired-${userId}`;
    const first = await send(key, { user_id: userId, cart }).expect(200);
    await send(key, { user_id: laterUser, cart }).expect(422);
    const [aged] = await queryTestDatabase<{ key: string }>(
      "UPDATE payment.idempotency_keys SET created_at = created_at - interval '24 hours 1 second' WHERE key = $1 RETURNING key",
      [key],
    );
    expect(aged).toEqual({ key });
    const later = await send(key, { user_id: laterUser, cart }).expect(200);
    expect(later.body.payment_id).not.toBe(first.body.payment_id);
    const published = await publishedFor(userId, laterUser);
    expect(published.map((p) => [p.user_id, p.payment_id]).sort()).toEqual(
      [[userId, first.body.payment_id], [laterUser, later.body.payment_id]].sort(),
    );
  });

  it('refuses a key that is not one with 400', async () => {
    const response = await refusedKey('not a key!');
    expect(response.body.errors).toEqual([{ field: 'Idempotency-Key', messages: ['Idempotency-Key must be 1 to 100 letters, digits, _ . : or -'] }]);
    await refusedKey('k'.repeat(101));
  });
});
