import { randomUUID } from 'node:crypto';
import { CONSUMER_GROUPS, DLQ_TOPICS, GROUP_TOPICS, TOPICS } from '@app/contracts';
import type { Producer } from 'kafkajs';
import { poisonPills } from '../scripts/lib/poison';
import { readLetters } from '../scripts/lib/dead-letters';
import { waitFor } from '../scripts/lib/wait';
import { CHAIN_DEADLINE_MS, freshUserId, ordersArriving, ordersOf } from './support/http';
import { DeadLetterReader } from './support/dead-letters';
import { queryTestDatabase } from './support/database';
import { paymentEvent } from './support/events';
import { connectedProducer, testKafka, withAdmin } from './support/kafka';
import { urlOf } from './support/environment';
import { metric, metricsText } from './support/metrics';

/** Dead letters the order instances counted for payment-successful, by reason. */
async function orderLettersByReason(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const label of ['order-1', 'order-2', 'order-3'] as const) {
    const text = await metricsText(urlOf(label));
    for (const [, reason, value] of text.matchAll(/^kafka_messages_dead_lettered_total\{topic="payment-successful",retriable="false",reason="([a-z_]+)"\} (\d+)$/gm)) {
      counts[reason] = (counts[reason] ?? 0) + Number(value);
    }
  }
  return counts;
}

/**
 * Poison written straight to payment-successful must not crash or block its consumers: it goes to
 * dlq-payment (once per consumer group), and a good payment behind it on the same partition still flows.
 */
describe('poison messages', () => {
  let producer: Producer;
  let dlq: DeadLetterReader;

  beforeAll(async () => {
    producer = await connectedProducer();
    dlq = await DeadLetterReader.start(DLQ_TOPICS[TOPICS.paymentSuccessful]);
  });

  afterAll(async () => {
    await dlq.stop();
    await producer.disconnect();
  });

  it.each([
    ['a NUL character', 'TV\u0000', 'cart.0.name must not contain the NUL character (\\u0000)'],
    ['a lone surrogate', 'TV \ud800', 'cart.0.name must not contain half of a UTF-16 surrogate pair (such as \\ud800)'],
  ])('dead-letters a payment whose name holds %s at once as a contract violation (the HTTP edge refuses it too), not retried and not refused by the database', async (_, name, reason) => {
    const userId = freshUserId();
    const event = { payment_id: `bad-text-${randomUUID()}`, user_id: userId, cart: [{ name, price: 5, quantity: 1 }], amount: 5, timestamp: Math.floor(Date.now() / 1000) };
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key: String(userId), value: JSON.stringify(event) }] });

    const groups = [CONSUMER_GROUPS.order, CONSUMER_GROUPS.analytics];
    const letters = await dlq.waitFor((l) => l.original_key === String(userId), groups.length, `the dead letters of user ${userId}, one per group`, CHAIN_DEADLINE_MS);
    expect(letters.map((l) => l.group).sort()).toEqual([...groups].sort());
    for (const letter of letters) {
      expect(letter.error).toBe(`ContractViolation: PaymentSuccessfulEvent is invalid: ${reason}`);
      expect(letter.retriable).toBe(false);
    }
    // The order group has handled the record (its letter is there): no order came of it.
    expect(await ordersOf(userId)).toEqual([]);
  });

  it('moves each kind of poison to the DLQ with its origin, and the partition keeps flowing', async () => {
    const userId = freshUserId();
    const key = String(userId);
    const marker = randomUUID();
    const poison = poisonPills(userId, marker);
    const lettersBefore = await orderLettersByReason();
    const sent = await producer.send({ topic: TOPICS.paymentSuccessful, messages: poison.map(({ value }) => ({ key, value })) });
    const partition = sent[0].partition;
    const good = { payment_id: `good-${marker}`, user_id: userId, cart: [{ name: 'Dyson V15', price: 649, quantity: 1 }], amount: 649, timestamp: Math.floor(Date.now() / 1000) };
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key, value: JSON.stringify(good) }] });

    // The good payment sits behind the poison on the same partition: its order proves nothing is blocked.
    const [order] = await ordersArriving(userId, 'the order of the payment behind the poison');
    expect(order).toMatchObject({ payment_id: good.payment_id, total: 649 });
    expect(await ordersOf(userId)).toHaveLength(1);

    const groups = [CONSUMER_GROUPS.order, CONSUMER_GROUPS.analytics];
    const ours = await waitFor(() => {
      const mine = dlq.letters.filter((r) => r.original_key === key && r.partition === partition);
      return mine.length === poison.length * groups.length ? mine : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: `${poison.length * groups.length} dead letters (each poison, once per group)` });

    for (const group of groups) {
      const letters = ours.filter((r) => r.group === group);
      expect(letters.map((r) => r.original_message)).toEqual(poison.map((p) => p.value));
      for (const letter of letters) {
        expect(letter).toMatchObject({ topic: TOPICS.paymentSuccessful, partition, group, instance_id: expect.any(String) });
        expect(letter.offset).toMatch(/^\d+$/);
        expect(letter.error.length).toBeGreaterThan(0);
        expect(Number.isNaN(Date.parse(letter.timestamp))).toBe(false);
      }
      expect(letters.find((l) => l.original_message === null)?.error).toMatch(/tombstone/);
      expect(letters.find((l) => l.original_message?.includes('"amount":1'))?.error).toMatch(/amount/);
    }
    // The order group counted each letter by its kind: bytes that are no event at all, or an event that breaks
    // its contract; nothing else, and each poison once.
    const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
    // Counted just after each letter is acknowledged, so possibly a moment after the reader saw it.
    const lettersAfter = await waitFor(async () => {
      const counts = await orderLettersByReason();
      return total(counts) - total(lettersBefore) >= poison.length ? counts : undefined;
    }, { timeoutMs: 10_000, what: 'the order instances to count the letters' });
    const added = (reason: string) => (lettersAfter[reason] ?? 0) - (lettersBefore[reason] ?? 0);
    const orderErrors = ours.filter((r) => r.group === CONSUMER_GROUPS.order).map((r) => r.error);
    expect(added('undecodable')).toBe(orderErrors.filter((e) => e.startsWith('PoisonMessageError')).length);
    expect(added('contract')).toBe(orderErrors.filter((e) => e.startsWith('ContractViolation')).length);
    expect(added('undecodable')).toBeGreaterThan(0);
    expect(added('contract')).toBeGreaterThan(0);
    expect(added('undecodable') + added('contract')).toBe(poison.length);
  });

  it.each([TOPICS.orderCreated, TOPICS.emailSent])('moves a bad record on %s to its own DLQ, once for each group that reads the topic', async (topic) => {
    const groups = Object.entries(GROUP_TOPICS).filter(([, topics]) => topics.includes(topic)).map(([group]) => group);
    const reader = await DeadLetterReader.start(DLQ_TOPICS[topic]);
    try {
      const poison = `not json ${randomUUID()}`;
      const [sent] = await producer.send({ topic, acks: -1, messages: [{ key: 'dlq-per-topic', value: poison }] });
      const letters = await reader.waitFor((l) => l.original_message === poison, groups.length, `the bad record in ${DLQ_TOPICS[topic]}, once per group`, CHAIN_DEADLINE_MS);
      expect(letters.map((l) => l.group).sort()).toEqual([...groups].sort());
      for (const letter of letters) {
        expect(letter).toMatchObject({ topic, partition: sent.partition, offset: sent.baseOffset, retriable: false, original_key: 'dlq-per-topic' });
        expect(letter.error).toMatch(/^PoisonMessageError: the value is not valid JSON/);
      }
    } finally {
      await reader.stop();
    }
  });
});

describe('a record handled again', () => {
  afterAll(async () => {
    // Whatever happened, leave the table where the other suites expect it.
    await queryTestDatabase('ALTER TABLE IF EXISTS analytics.events_away RENAME TO events');
  });

  it('is dead-lettered once per group, however often the records around it are retried', async () => {
    const since = new Date(Date.now() - 1000);
    const [good, bad] = [freshUserId(), freshUserId()];
    const retried = () => metric(urlOf('analytics'), /^kafka_handler_retries_total\{topic="payment-successful"\}/);
    const retriesBefore = await retried();
    await queryTestDatabase('ALTER TABLE analytics.events RENAME TO events_away');
    // On one partition, two keys: analytics retries the good payment (its table is away) and, side by side in
    // its own lane, reads the bad one behind it again at every attempt.
    const producer = await connectedProducer();
    const [sent] = await producer
      .send({
        topic: TOPICS.paymentSuccessful,
        acks: -1,
        messages: [
          { partition: 0, key: String(good), value: JSON.stringify(paymentEvent(good, `again-${randomUUID()}`)) },
          { partition: 0, key: String(bad), value: `not json ${randomUUID()}` },
        ],
      })
      .finally(() => producer.disconnect());
    const badOffset = (BigInt(sent.baseOffset!) + 1n).toString();
    await waitFor(async () => (await retried()) - retriesBefore >= 3, { timeoutMs: CHAIN_DEADLINE_MS, what: 'analytics to retry the good payment three times' });
    await queryTestDatabase('ALTER TABLE analytics.events_away RENAME TO events');

    // Every group past the bad record: exactly once, its letter left with that offset, so all letters are written.
    await withAdmin((admin) =>
      waitFor(async () => {
        for (const groupId of [CONSUMER_GROUPS.order, CONSUMER_GROUPS.analytics]) {
          const [offsets] = await admin.fetchOffsets({ groupId, topics: [TOPICS.paymentSuccessful] });
          if (BigInt(offsets.partitions.find((p) => p.partition === 0)?.offset ?? '-1') <= BigInt(badOffset)) return false;
        }
        return true;
      }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'order and analytics to commit past the bad record' }),
    );
    const letters = await withAdmin((admin) => readLetters(testKafka(), admin, [DLQ_TOPICS[TOPICS.paymentSuccessful]], { since }));
    const ofBad = letters.filter((l) => l.record.topic === TOPICS.paymentSuccessful && l.record.partition === 0 && l.record.offset === badOffset);
    expect(ofBad.map((l) => l.record.group).sort()).toEqual([CONSUMER_GROUPS.analytics, CONSUMER_GROUPS.order]);
    expect(ofBad.every((l) => l.record.original_key === String(bad))).toBe(true);
  });
});
