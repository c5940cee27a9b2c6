import { derivedUuid, DLQ_TOPICS, TOPICS } from '@app/contracts';
import { recordId } from '@app/kafka';
import type { Producer } from 'kafkajs';
import { waitFor } from '../scripts/lib/wait';
import { queryTestDatabase } from './support/database';
import { DeadLetterReader } from './support/dead-letters';
import { CHAIN_DEADLINE_MS, emailsOf, freshUserId, ordersOf, payment } from './support/http';
import { connectedProducer } from './support/kafka';
import { readTopics } from './support/topic-reader';

// The course's Python services (order, email) write smaller events than the project's: these are their shapes,
// as a student who swaps one of them in would produce them. Written by hand here: no course code is used.
function courseOrder(orderId: number, userId: number) {
  return { order_id: orderId, user_id: userId, items: [{ name: 'PlayStation 5', price: 499.99 }, { name: 'Manette', price: 69.5, quantity: 2 }], status: 'confirmed' };
}

function courseEmail(orderId: number, userId: number) {
  return { user_id: userId, order_id: orderId, email_to: `user_${userId}@example.com`, subject: `Confirmation de commande #${orderId}`, status: 'sent' };
}

/** The id a consumer derives for a record of the course's shape: its place and its time. */
function recordIdOf(topic: string, meta: { partition: number; baseOffset?: string }, timestamp: string): string {
  return recordId({ topic, partition: meta.partition, offset: meta.baseOffset!, key: null, timestamp });
}

async function analyticsEvent(topic: string, eventId: string) {
  return queryTestDatabase<{ user_id: number; amount: string | null }>('SELECT user_id, amount FROM analytics.events WHERE topic = $1 AND event_id = $2', [topic, eventId]);
}

let producer: Producer;
let orderLetters: DeadLetterReader;
let emailLetters: DeadLetterReader;

beforeAll(async () => {
  producer = await connectedProducer();
  orderLetters = await DeadLetterReader.start(DLQ_TOPICS[TOPICS.orderCreated]);
  emailLetters = await DeadLetterReader.start(DLQ_TOPICS[TOPICS.emailSent]);
});

afterAll(async () => {
  await orderLetters.stop();
  await emailLetters.stop();
  await producer.disconnect();
});

describe("the course's services swapped in", () => {
  it("the project's email and analytics take the course order service's events: an integer id that repeats, no key, no payment id, total or time", async () => {
    const users = [freshUserId(), freshUserId()];
    const timestamp = String(Date.now());
    // The course's counter starts again at 1 when its service restarts: two different orders with the same id.
    const written = [];
    for (const userId of users) {
      const [meta] = await producer.send({ topic: TOPICS.orderCreated, messages: [{ key: null, value: JSON.stringify(courseOrder(1, userId)), timestamp }] });
      written.push(meta);
    }

    for (const [i, userId] of users.entries()) {
      const [email] = await waitFor(async () => {
        const found = await emailsOf(userId);
        return found.some((e) => e.status === 'sent') ? found : undefined;
      }, { timeoutMs: CHAIN_DEADLINE_MS, what: `the confirmation for the course's order of user ${userId}, sent` });
      const orderId = derivedUuid(`order:${recordIdOf(TOPICS.orderCreated, written[i], timestamp)}`);
      expect(email).toMatchObject({ order_id: orderId, user_id: userId, email_to: `user${userId}@example.com`, status: 'sent' });
      expect(email.body).toContain('Total: 638.99');
      expect(await emailsOf(userId)).toHaveLength(1);
      const counted = await waitFor(async () => {
        const rows = await analyticsEvent(TOPICS.orderCreated, orderId);
        return rows.length > 0 ? rows : undefined;
      }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'analytics to count the course order' });
      expect(counted).toEqual([{ user_id: userId, amount: '638.99' }]);
    }
    expect(orderLetters.letters.filter((l) => users.map(String).some((u) => l.original_message?.includes(u)))).toEqual([]);
  });

  it("analytics takes the course email service's events: an integer order id, no email id, no time", async () => {
    const userId = freshUserId();
    const timestamp = String(Date.now());
    const [meta] = await producer.send({ topic: TOPICS.emailSent, messages: [{ key: null, value: JSON.stringify(courseEmail(7, userId)), timestamp }] });
    const emailId = derivedUuid(`email:${recordIdOf(TOPICS.emailSent, meta, timestamp)}`);
    const counted = await waitFor(async () => {
      const rows = await analyticsEvent(TOPICS.emailSent, emailId);
      return rows.length > 0 ? rows : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'analytics to count the course email' });
    expect(counted).toEqual([{ user_id: userId, amount: null }]);
    expect(emailLetters.letters.filter((l) => l.original_message?.includes(String(userId)))).toEqual([]);
  });

  it("the project's events carry every field the course's consumers read", async () => {
    const userId = freshUserId();
    const cart = [{ name: 'Casque audio', price: 129.9, quantity: 2 }];
    await payment().post('/payment').send({ user_id: userId, cart }).expect((r) => expect(r.status).toBeLessThan(300));
    await waitFor(async () => (await emailsOf(userId)).length > 0, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the email of the payment' });
    const [order] = await ordersOf(userId);

    const events: Record<string, Array<Record<string, any>>> = {};
    const seen = await readTopics([TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent], (topic, message) => {
      const text = String(message.value);
      if (!text.includes(`"user_id":${userId},`)) return;
      (events[topic] ??= []).push(JSON.parse(text));
    });
    expect(seen).toBeGreaterThan(0);
    // The course's order service reads user_id and a cart of named, priced items; its analytics adds quantity.
    expect(events[TOPICS.paymentSuccessful]).toEqual([expect.objectContaining({ user_id: userId, cart })]);
    // Its email service reads user_id and order_id; its analytics order_id.
    expect(events[TOPICS.orderCreated]).toEqual([expect.objectContaining({ order_id: order.order_id, user_id: userId, items: cart, status: 'confirmed' })]);
    // Its analytics reads order_id and email_to.
    expect(events[TOPICS.emailSent]).toEqual([
      expect.objectContaining({ order_id: order.order_id, user_id: userId, email_to: `user${userId}@example.com`, subject: expect.any(String), status: 'sent' }),
    ]);
  });
});
