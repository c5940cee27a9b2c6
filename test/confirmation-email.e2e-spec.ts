import { Client } from 'pg';
import type { Producer } from 'kafkajs';
import request from 'supertest';
import { CONSUMER_GROUPS, DLQ_TOPICS, TOPICS, type DeadLetterRecord } from '@app/contracts';
import { ServiceProcess, type ServiceSpec } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { startService, stopService } from './support/chain-control';
import { queryTestDatabase } from './support/database';
import { DeadLetterReader } from './support/dead-letters';
import { orderCreatedEvent } from './support/events';
import { TEST_PORT_OFFSET, testDatabaseUrl, testServiceEnv, urlOf } from './support/environment';
import { CHAIN_DEADLINE_MS, emailsOf, freshUserId, joinedGroup } from './support/http';
import { connectedProducer } from './support/kafka';
import { TestMailServer } from './support/mail-server';
import { groupCaughtUp, readTopics } from './support/topic-reader';

const ORDERS_DLQ = DLQ_TOPICS[TOPICS.orderCreated];
const address = (userId: number) => `user${userId}@example.com`;
const messageIdOf = (orderId: string) => `<order-${orderId}@shop.example>`;

const orderEvent = (userId: number) => orderCreatedEvent(userId, { name: 'AirPods Pro', price: 249, paymentPrefix: 'smtp' });

/**
 * The email service against a real SMTP server run in this process. The chain's own email instance (JSON
 * transport) is stopped for the suite and one sending to this server takes its place, port and group; the
 * chain's comes back afterwards.
 */
describe('confirmation emails over SMTP', () => {
  const spec: ServiceSpec = { service: 'email', label: 'email-smtp', port: 8002 + TEST_PORT_OFFSET };
  let mail: TestMailServer;
  let email: ServiceProcess;
  let producer: Producer;
  let dlq: DeadLetterReader;

  const startEmail = async () => {
    email = ServiceProcess.start(spec, { ...testServiceEnv(), SMTP_URL: mail.url, DATABASE_STATEMENT_TIMEOUT_MS: '2000' });
    await email.waitHealthy();
    await joinedGroup(email.url, 3);
  };
  const send = async (...orders: Array<ReturnType<typeof orderEvent>>) => {
    await producer.send({ topic: TOPICS.orderCreated, messages: orders.map((o) => ({ key: String(o.user_id), value: JSON.stringify(o) })) });
  };
  const acceptedOnce = (order: ReturnType<typeof orderEvent>) =>
    waitFor(() => mail.acceptedWithId(messageIdOf(order.order_id)).length > 0, { timeoutMs: CHAIN_DEADLINE_MS, what: `the confirmation of order ${order.order_id}` });
  const retries = async () => {
    const text = (await request(email.url).get('/metrics').expect(200)).text;
    return Number(/^kafka_handler_retries_total\{topic="order-created"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  /** The dead letters of the email group for these orders, read to the topic's end once the group has caught up. */
  const lettersFor = async (orderIds: string[]) => {
    await groupCaughtUp(CONSUMER_GROUPS.email, [TOPICS.orderCreated]);
    const letters: DeadLetterRecord[] = [];
    const read = await readTopics([ORDERS_DLQ], (_topic, message) => {
      const letter = JSON.parse(String(message.value)) as DeadLetterRecord;
      if (orderIds.some((id) => letter.original_message?.includes(id))) letters.push(letter);
    });
    return { letters, read };
  };

  beforeAll(async () => {
    mail = await TestMailServer.start();
    producer = await connectedProducer();
    dlq = await DeadLetterReader.start(ORDERS_DLQ);
    await stopService('email');
    await startEmail();
  });

  afterAll(async () => {
    await email?.stop();
    await mail?.close();
    await producer?.disconnect();
    await dlq?.stop();
    await startService('email');
    await joinedGroup(urlOf('email'), 3);
  });

  it('sends one message per order, with a Message-ID made of the order, and none for a redelivered record', async () => {
    const userId = freshUserId();
    const order = orderEvent(userId);
    await send(order);
    await acceptedOnce(order);
    const [message] = mail.acceptedWithId(messageIdOf(order.order_id));
    expect(message).toMatchObject({ to: [address(userId)], subject: `Your order ${order.order_id.slice(0, 8)} is confirmed` });
    const [stored] = await emailsOf(userId);
    expect(stored).toMatchObject({ order_id: order.order_id, status: 'sent', message_id: messageIdOf(order.order_id) });

    // The same record again, as a redelivery brings it: handled (the group commits past it), nothing sent.
    await send(order);
    await groupCaughtUp(CONSUMER_GROUPS.email, [TOPICS.orderCreated]);
    expect(mail.acceptedFor(address(userId))).toHaveLength(1);
    expect(mail.attempts.get(address(userId))).toBe(1);
  });

  it('puts the order in the DLQ with the reason when the server refuses its recipient for good (550)', async () => {
    const userId = freshUserId();
    const order = orderEvent(userId);
    mail.faults.set(address(userId), { kind: 'refuse-recipient' });
    await send(order);
    const [letter] = await dlq.waitFor((l) => l.original_message?.includes(order.order_id) ?? false, 1, 'the refused order in dlq-order');
    expect(letter).toMatchObject({ topic: TOPICS.orderCreated, group: CONSUMER_GROUPS.email, retriable: false });
    expect(letter.error).toMatch(new RegExp(`^RecipientRefused: the mail server refused ${address(userId)}: .*550 .*no such user`));
    expect(mail.attempts.get(address(userId))).toBe(1);
    expect(mail.acceptedFor(address(userId))).toEqual([]);
    expect((await emailsOf(userId)).map((e) => e.status)).toEqual(['pending']);
  });

  describe('an outage of the mail server is retried under the failure policy, then sent once', () => {
    const retriedThenSent = async (order: ReturnType<typeof orderEvent>, retriesBefore: number) => {
      await acceptedOnce(order);
      const { letters, read } = await lettersFor([order.order_id]);
      expect(read).toBeGreaterThan(0);
      expect(letters).toEqual([]);
      expect(mail.acceptedFor(address(order.user_id))).toHaveLength(1);
      expect((await emailsOf(order.user_id)).map((e) => e.status)).toEqual(['sent']);
      expect((await retries()) - retriesBefore).toBeGreaterThanOrEqual(2);
    };

    it('a refused login (535)', async () => {
      const order = orderEvent(freshUserId());
      const before = { retries: await retries(), refused: mail.logins.refused };
      mail.refuseLogins = 2;
      mail.dropConnections(); // the pool's open connections have logged in already
      await send(order);
      await retriedThenSent(order, before.retries);
      expect(mail.logins.refused - before.refused).toBe(2);
    });

    it('a deferral (451)', async () => {
      const order = orderEvent(freshUserId());
      const before = await retries();
      mail.faults.set(address(order.user_id), { kind: 'defer', times: 2 });
      await send(order);
      await retriedThenSent(order, before);
      expect(mail.attempts.get(address(order.user_id))).toBe(3);
    });

    it('a connection dropped before the message is answered', async () => {
      const order = orderEvent(freshUserId());
      const before = await retries();
      mail.faults.set(address(order.user_id), { kind: 'drop', times: 2 });
      await send(order);
      await retriedThenSent(order, before);
      expect(mail.unanswered.filter((to) => to === address(order.user_id))).toHaveLength(2);
    });
  });

  it("holds a deferred customer's key alone while the others' confirmations go, and dead-letters a refused one once", async () => {
    const deferred = [orderEvent(freshUserId())];
    deferred.push({ ...orderEvent(deferred[0].user_id) });
    const refused = orderEvent(freshUserId());
    const others = Array.from({ length: 40 }, () => orderEvent(freshUserId()));
    mail.faults.set(address(deferred[0].user_id), { kind: 'defer', times: Number.MAX_SAFE_INTEGER });
    mail.faults.set(address(refused.user_id), { kind: 'refuse-recipient' });
    // One partition, the deferred customer's two orders first: the others run beside them, not behind.
    await producer.send({
      topic: TOPICS.orderCreated,
      messages: [...deferred, refused, ...others].map((o) => ({ partition: 0, key: String(o.user_id), value: JSON.stringify(o) })),
    });

    for (const order of others) await acceptedOnce(order);
    await dlq.waitFor((l) => l.original_message?.includes(refused.order_id) ?? false, 1, 'the refused order in dlq-order');
    // Meanwhile the deferred customer's first order is tried again and again, and nothing of theirs is sent.
    await waitFor(() => (mail.attempts.get(address(deferred[0].user_id)) ?? 0) >= 3, {
      timeoutMs: CHAIN_DEADLINE_MS,
      what: "the deferred customer's order to be retried",
    });
    expect(mail.acceptedFor(address(deferred[0].user_id))).toEqual([]);

    mail.faults.delete(address(deferred[0].user_id));
    for (const order of deferred) await acceptedOnce(order);
    // Their two orders in order: the second waited for the first's retries.
    const sentAt = (order: ReturnType<typeof orderEvent>) => mail.accepted.findIndex((m) => m.messageId === messageIdOf(order.order_id));
    expect(sentAt(deferred[0])).toBeLessThan(sentAt(deferred[1]));

    // Each other confirmation sent once, and the refused order dead-lettered once (by the email group).
    for (const order of others) expect(mail.acceptedWithId(messageIdOf(order.order_id))).toHaveLength(1);
    const { letters, read } = await lettersFor([refused.order_id, ...deferred.map((o) => o.order_id), ...others.map((o) => o.order_id)]);
    expect(read).toBeGreaterThan(0);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ group: CONSUMER_GROUPS.email, retriable: false });
    expect(letters[0].original_message).toContain(refused.order_id);
  });

  it('waits out a statement the database holds past its timeout, then sends once', async () => {
    const order = orderEvent(freshUserId());
    const locker = new Client({ connectionString: testDatabaseUrl() });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE email.emails IN ACCESS EXCLUSIVE MODE');
      await send(order);
      const stall = await waitFor(async () => {
        const stalled: Array<{ reason: string; attempts: number }> = (await request(email.url).get('/health')).body.details?.kafka?.stalled ?? [];
        return stalled.find((s) => /statement timeout/.test(s.reason) && s.attempts >= 2);
      }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the email partition to stall on the statement timeout, and be retried' });
      expect(stall.reason).toMatch(/canceling statement due to statement timeout/);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    await acceptedOnce(order);
    await groupCaughtUp(CONSUMER_GROUPS.email, [TOPICS.orderCreated]);
    expect(mail.acceptedFor(address(order.user_id))).toHaveLength(1);
  });

  it('sends again only what the server accepted before its email was marked sent, when SIGKILLed mid-burst', async () => {
    const burst = Array.from({ length: 1000 }, () => orderEvent(freshUserId()));
    const byAddress = new Map(burst.map((o) => [address(o.user_id), o]));
    const acceptedOfBurst = () => mail.accepted.filter((m) => m.to.some((to) => byAddress.has(to)));
    const loginsBefore = mail.logins.accepted;
    await send(...burst);
    await waitFor(() => acceptedOfBurst().length >= 50, { timeoutMs: CHAIN_DEADLINE_MS, intervalMs: 10, what: 'the burst to be under way' });
    await email.stop('SIGKILL');
    expect(email.exitSignal).toBe('SIGKILL');
    const acceptedAtKill = new Set(acceptedOfBurst().flatMap((m) => m.to));
    expect(acceptedAtKill.size).toBeLessThan(burst.length);
    // Pooled: those messages came over a few connections, not one login each.
    const loginsAtKill = mail.logins.accepted - loginsBefore;
    expect(loginsAtKill).toBeLessThanOrEqual(10);
    const ids = burst.map((o) => o.order_id);
    const sentAtKill = new Set(
      (await queryTestDatabase<{ order_id: string }>(`SELECT order_id FROM email.emails WHERE status = 'sent' AND order_id = ANY($1::uuid[])`, [ids])).map((r) => r.order_id),
    );
    expect(sentAtKill.size).toBeGreaterThan(0);
    await startEmail();

    await waitFor(() => new Set(acceptedOfBurst().flatMap((m) => m.to)).size === burst.length, {
      timeoutMs: 120_000,
      what: 'a message for every order of the burst',
    });
    await groupCaughtUp(CONSUMER_GROUPS.email, [TOPICS.orderCreated]);
    const perOrder = new Map<string, string[]>();
    for (const message of acceptedOfBurst()) {
      const order = byAddress.get(message.to[0])!;
      perOrder.set(order.order_id, [...(perOrder.get(order.order_id) ?? []), message.messageId]);
    }
    // Every copy of an order's message carries the order's Message-ID: a receiver can drop the second.
    for (const order of burst) expect(new Set(perOrder.get(order.order_id))).toEqual(new Set([messageIdOf(order.order_id)]));
    const twice = burst.filter((o) => perOrder.get(o.order_id)!.length > 1);
    expect(Math.max(...[...perOrder.values()].map((copies) => copies.length))).toBeLessThanOrEqual(2);
    // A second message only for one the server had accepted while its email was not yet marked sent.
    expect(twice.filter((o) => !acceptedAtKill.has(address(o.user_id)) || sentAtKill.has(o.order_id))).toEqual([]);
    console.log(`SIGKILL after ${acceptedAtKill.size} of ${burst.length} messages (${sentAtKill.size} marked sent): ${twice.length} order(s) got a second message; ${loginsAtKill} logins before the kill`);
  });

  it('stops within a bound on SIGTERM while the mail server never answers a message, and sends it after', async () => {
    const order = orderEvent(freshUserId());
    const to = address(order.user_id);
    mail.faults.set(to, { kind: 'hang' });
    await send(order);
    await waitFor(() => mail.unanswered.includes(to), { timeoutMs: CHAIN_DEADLINE_MS, what: 'the message to be read and left unanswered' });

    const began = Date.now();
    await email.stop('SIGTERM', 60_000);
    const seconds = (Date.now() - began) / 1000;
    expect({ code: email.exitCode, signal: email.exitSignal }).toEqual({ code: 0, signal: null });
    expect(seconds).toBeLessThan(10);
    console.log(`SIGTERM with a message hanging in DATA: exited in ${seconds.toFixed(1)} s`);

    // The message was never accepted: the email is still pending, and the next instance sends it, same Message-ID.
    expect((await queryTestDatabase<{ status: string }>('SELECT status FROM email.emails WHERE order_id = $1', [order.order_id])).map((r) => r.status)).toEqual(['pending']);
    mail.faults.delete(to);
    await startEmail();
    await acceptedOnce(order);
    expect(mail.acceptedFor(to).map((m) => m.messageId)).toEqual([messageIdOf(order.order_id)]);
  });
});
