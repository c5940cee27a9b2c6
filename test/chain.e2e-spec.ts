import { TOPICS } from '@app/contracts';
import { waitFor } from '../scripts/lib/wait';
import {
  CHAIN_DEADLINE_MS,
  emailsOf,
  freshUserId,
  orders,
  ordersArriving,
  ordersOf,
  payment,
  statistics,
  statisticsReaching,
} from './support/http';
import { chainQuiet, connectedProducer } from './support/kafka';

describe('a payment through the whole chain', () => {
  it('becomes one order, one confirmation email and analytics figures', async () => {
    await chainQuiet();
    const before = await statistics();
    // From the minute before this one: well inside the ten minutes the figures cover, so no row slides out.
    const fromMinute = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const userId = freshUserId();

    const accepted = await payment()
      .post('/payment')
      .send({ user_id: userId, cart: [{ name: 'MacBook', price: 1999, quantity: 1 }] })
      .expect(200);
    // The course's answer (its clients count a payment only on this 200), with the payment's id and amount.
    expect(accepted.body).toEqual({
      status: 'success',
      message: 'Payment accepted',
      user_id: userId,
      cart: [{ name: 'MacBook', price: 1999, quantity: 1 }],
      payment_id: expect.any(String),
      amount: 1999,
    });
    const paymentId: string = accepted.body.payment_id;

    const [order] = await ordersArriving(userId, `the order of payment ${paymentId}`);
    expect(order).toMatchObject({
      payment_id: paymentId,
      user_id: userId,
      items: [{ name: 'MacBook', price: 1999, quantity: 1 }],
      total: 1999,
      status: 'confirmed',
    });
    expect(['1', '2', '3']).toContain(order.instance_id);
    const byId = await orders().get(`/orders/${order.order_id}`).expect(200);
    expect(byId.body).toEqual(order);

    const [email] = await waitFor(async () => {
      const found = await emailsOf(userId);
      return found.some((e) => e.status === 'sent') ? found : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: `the confirmation email of order ${order.order_id}` });
    expect(email).toMatchObject({ order_id: order.order_id, user_id: userId, email_to: `user${userId}@example.com`, status: 'sent' });
    expect(String(email.transport_output)).toContain(String(email.subject));

    await statisticsReaching({
      payments: before.total_payments + 1,
      orders: before.total_orders + 1,
      emails: before.total_emails + 1,
    });
    // Once the chain is quiet (by the broker's offsets), nothing more is on its way: one of each, exactly.
    await chainQuiet();
    expect(await ordersOf(userId)).toHaveLength(1);
    expect(await emailsOf(userId)).toHaveLength(1);
    const after = await statistics();
    expect(after.total_payments - before.total_payments).toBe(1);
    expect(after.total_orders - before.total_orders).toBe(1);
    expect(after.total_emails - before.total_emails).toBe(1);
    expect(after.revenue - before.revenue).toBeCloseTo(1999, 2);
    expect(after.unique_users - before.unique_users).toBe(1);
    // The per-minute figures, as a change: the minutes since the first reading gained this payment's three events.
    const since = (stats: Awaited<ReturnType<typeof statistics>>, kind: 'payments' | 'orders' | 'emails') =>
      (stats.events_per_minute as Array<Record<string, number | string>>)
        .filter((m) => Date.parse(String(m.minute)) >= fromMinute)
        .reduce((sum, m) => sum + Number(m[kind]), 0);
    expect({ payments: since(after, 'payments') - since(before, 'payments'), orders: since(after, 'orders') - since(before, 'orders'), emails: since(after, 'emails') - since(before, 'emails') })
      .toEqual({ payments: 1, orders: 1, emails: 1 });
    // The last minute holds this payment's three events, and no more than the two minutes it overlaps hold.
    const lastTwoMinutes = (after.events_per_minute as Array<Record<string, number>>).slice(-2).reduce((sum, m) => sum + m.payments + m.orders + m.emails, 0);
    expect(after.events_last_minute).toBeGreaterThanOrEqual(3);
    expect(after.events_last_minute).toBeLessThanOrEqual(lastTwoMinutes);
  });

  it('ranks a best seller among the top products, with its quantity and revenue', async () => {
    // Other suites' bursts put thousands of each catalogue product in the top ten: a product of this run's own,
    // bought 100,000 times in one cart (100 lines of 1000), outranks them all, so it must be listed, exactly.
    const userId = freshUserId();
    const name = `Best seller ${userId}`;
    const cart = Array.from({ length: 100 }, () => ({ name, price: 1.5, quantity: 1000 }));
    await payment().post('/payment').send({ user_id: userId, cart }).expect(200);
    const listed = await waitFor(async () => (await statistics()).top_products.find((p: { name: string }) => p.name === name), {
      timeoutMs: CHAIN_DEADLINE_MS,
      what: `${name} among the top products`,
    });
    expect(listed).toEqual({ name, quantity: 100_000, revenue: 150_000 });
  });

  it('shows every order on every order instance, newest first', async () => {
    const userId = freshUserId();
    for (const price of [10, 20]) {
      await payment().post('/payment').send({ user_id: userId, cart: [{ name: 'Nintendo Switch', price }] }).expect(200);
    }
    const seen = await waitFor(async () => {
      const found = await ordersOf(userId, 1);
      return found.length === 2 ? found : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'both orders' });
    expect(seen.map((o) => o.total)).toEqual([20, 10]);
    expect(await ordersOf(userId, 2)).toEqual(seen);
    expect(await ordersOf(userId, 3)).toEqual(seen);
  });

  it("keeps each user's payments in the order they were made, through orders and emails, when they arrive in one batch", async () => {
    const users = Array.from({ length: 40 }, () => freshUserId());
    const rounds = 4;
    // Interleaved, so each fetched batch holds several records of one user among other users' records.
    const messages = Array.from({ length: rounds }, (_, round) =>
      users.map((userId) => ({
        key: String(userId),
        value: JSON.stringify({ user_id: userId, cart: [{ name: 'AirPods Pro', price: 100 + round, quantity: 1 }], timestamp: Date.now() }),
      })),
    ).flat();
    const producer = await connectedProducer();
    try {
      await producer.send({ topic: TOPICS.paymentSuccessful, acks: -1, messages });
    } finally {
      await producer.disconnect();
    }

    for (const userId of users) {
      const emailed = await waitFor(async () => {
        const found = await emailsOf(userId);
        return found.filter((e) => e.status === 'sent').length === rounds ? found : undefined;
      }, { timeoutMs: CHAIN_DEADLINE_MS, what: `the ${rounds} emails of user ${userId}` });
      // Newest first: the rounds come back in reverse, for orders (by creation) and for their emails.
      const placed = await ordersOf(userId);
      expect(placed.map((o) => o.total)).toEqual([103, 102, 101, 100]);
      expect(emailed.map((e) => e.order_id)).toEqual(placed.map((o) => o.order_id));
    }
  });

  it('pages a customer\'s orders with ?page=&limit=, newest first, and refuses a page size over 200', async () => {
    const userId = freshUserId();
    const ids: string[] = [];
    for (const name of ['first', 'second', 'third']) {
      ids.push((await payment().post('/payment').send({ user_id: userId, cart: [{ name: `Paged ${name}`, price: 10 }] }).expect(200)).body.payment_id);
      // One after the other: each order is created after the one before, so "newest first" has one answer.
      await waitFor(async () => (await ordersOf(userId)).length === ids.length, { timeoutMs: CHAIN_DEADLINE_MS, what: `order ${ids.length}` });
    }
    const page = async (query: string) => (await orders().get(`/orders?user_id=${userId}&${query}`).expect(200)).body;
    const first = await page('limit=2&page=1');
    expect({ ...first, items: first.items.map((o: { payment_id: string }) => o.payment_id) }).toEqual({ items: [ids[2], ids[1]], page: 1, limit: 2, total: 3 });
    const second = await page('limit=2&page=2');
    expect({ ...second, items: second.items.map((o: { payment_id: string }) => o.payment_id) }).toEqual({ items: [ids[0]], page: 2, limit: 2, total: 3 });
    expect((await page('limit=2&page=3')).items).toEqual([]);
    // Without a query: page 1 of 20.
    expect(await page('')).toMatchObject({ page: 1, limit: 20, total: 3 });
    await orders().get('/orders?limit=201').expect(400);
    await orders().get('/orders?page=0').expect(400);
  });

  it('answers 404 for an unknown order and 400 for an id that is not one', async () => {
    await orders().get('/orders/00000000-0000-4000-8000-000000000000').expect(404);
    await orders().get('/orders/not-an-id').expect(400);
    const badPage = await orders().get('/orders').query({ limit: 0 }).expect(400);
    expect(badPage.body.errors).toEqual([expect.objectContaining({ field: 'limit' })]);
    const outOfRange = await orders().get('/orders').query({ user_id: 3_000_000_000, page: 1e18 }).expect(400);
    expect(outOfRange.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['page', 'user_id']);
  });
});
