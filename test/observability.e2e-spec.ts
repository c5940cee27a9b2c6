import request from 'supertest';
import { testBrokers, testChainSpecs, urlOf } from './support/environment';
import { waitFor } from '../scripts/lib/wait';
import { CHAIN_DEADLINE_MS, emailsOf, freshUserId, joinedGroup, payment, reader } from './support/http';
import { metricsText, sample } from './support/metrics';
import { serviceLogs, signalService, startService, stopService } from './support/chain-control';
import { brokerLags, chainQuiet, connectedProducer, withAdmin } from './support/kafka';
import { queryTestDatabase } from './support/database';
import { orderCreatedEvent } from './support/events';
import { ORDER_INSTANCES, waitForSplit } from './support/ownership';
import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';


const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** A group's lag on one partition as the broker itself gives it. */
function brokerLag(group: string, topic: string, partition: number): Promise<number> {
  return withAdmin(async (admin) => Number((await brokerLags(admin, group, topic)).get(partition)));
}

describe('health and metrics', () => {
  it.each(testChainSpecs().map((spec) => [spec.label, spec] as const))('%s answers /health with Kafka and its database up', async (_, spec) => {
    const url = `http://127.0.0.1:${spec.port}`;
    // A consumer's health is up while it rebalances; wait for the group to settle before reading its state.
    const response = spec.service === 'payment' ? await request(url).get('/health').expect(200) : await joinedGroup(url);
    expect(response.body.status).toBe('ok');
    expect(response.body.details.kafka).toMatchObject({ status: 'up', brokers: testBrokers().length });
    // Every service has its schema now: payment keeps its Idempotency-Keys in `payment`.
    expect(response.body.details.database).toMatchObject({ status: 'up' });
    if (spec.service !== 'payment') expect(response.body.details.kafka.consumer).toBe('joined');
  });

  it.each(testChainSpecs().map((spec) => [spec.label, spec] as const))('%s answers /health/live with its process and consumer, /health/ready with Kafka and its database', async (_, spec) => {
    const url = `http://127.0.0.1:${spec.port}`;
    if (spec.service !== 'payment') await joinedGroup(url);
    const live = (await request(url).get('/health/live').expect(200)).body;
    expect(Object.keys(live.details).sort()).toEqual(['consumer', 'process']);
    expect(live.details.process).toMatchObject({ status: 'up', pid: expect.any(Number) });
    expect(live.details.consumer).toEqual(
      spec.service === 'payment' ? { status: 'up', consuming: false } : { status: 'up', consumer: 'joined', silent_for_s: expect.any(Number) },
    );
    const ready = (await request(url).get('/health/ready').expect(200)).body;
    expect(Object.keys(ready.details).sort()).toEqual(['database', 'kafka']);
  });

  it('counts published events in kafka_messages_sent_total by event type, and their amounts in payment_amount_total', async () => {
    const read = async () => {
      const text = (await payment().get('/metrics').expect(200).expect('Content-Type', /text\/plain/)).text;
      const match = text.match(/^kafka_messages_sent_total\{event_type="payment-successful"\} (\d+)$/m);
      return { text, count: match ? Number(match[1]) : 0 };
    };
    const before = await read();
    const revenueBefore = await sample(urlOf('payment'), 'payment_amount_total');
    await payment().post('/payment').send({ user_id: freshUserId(), cart: [{ name: 'Apple Watch', price: 399, quantity: 2 }] }).expect(200);
    const after = await read();
    expect(after.count).toBe(before.count + 1);
    // Revenue: the payment's amount, price times quantity.
    expect(await sample(urlOf('payment'), 'payment_amount_total')).toBe(revenueBefore + 798);
    expect(after.text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('counts HTTP answers by route template and status, and times them', async () => {
    const url = urlOf('payment');
    const accepted = 'method="POST",route="/payment",status="200"';
    const refused = 'method="POST",route="unmatched",status="415"';
    const before = await Promise.all([`http_requests_total{${accepted}}`, `http_request_duration_seconds_count{${accepted}}`, `http_requests_total{${refused}}`].map((s) => sample(url, s)));
    await payment().post('/payment').send({ user_id: freshUserId(), cart: [{ name: 'iPad', price: 599 }] }).expect(200);
    // Refused before any route takes it: counted all the same, under `unmatched`.
    await payment().post('/payment').set('Content-Type', 'text/plain').send('user_id=1').expect(415);
    const after = await Promise.all([`http_requests_total{${accepted}}`, `http_request_duration_seconds_count{${accepted}}`, `http_requests_total{${refused}}`].map((s) => sample(url, s)));
    expect(after).toEqual(before.map((n) => n + 1));

    // A path with an id is counted under its template, never under the id.
    const order = urlOf('order-1');
    const missing = 'method="GET",route="/orders/:id",status="404"';
    const missingBefore = await sample(order, `http_requests_total{${missing}}`);
    const id = '00000000-0000-4000-8000-000000000000';
    await reader(order).get(`/orders/${id}`).expect(404);
    expect(await sample(order, `http_requests_total{${missing}}`)).toBe(missingBefore + 1);
    expect(await metricsText(order)).not.toContain(id);
  });

  it('counts the transactions that carry a payment through order and email, and exports rebalances, crashes and stalled partitions', async () => {
    const orders = ['order-1', 'order-2', 'order-3'].map((label) => urlOf(label as 'order-1'));
    const email = urlOf('email');
    const committed = async () => ({
      order: sum(await Promise.all(orders.map((u) => sample(u, 'kafka_transactions_total{topic="payment-successful",outcome="committed"}')))),
      email: await sample(email, 'kafka_transactions_total{topic="order-created",outcome="committed"}'),
    });
    const before = await committed();
    const timed = async () => ({ count: await sample(email, 'payment_to_email_seconds_count'), sum: await sample(email, 'payment_to_email_seconds_sum') });
    const timedBefore = await timed();
    const userId = freshUserId();
    await payment().post('/payment').send({ user_id: userId, cart: [{ name: 'AirTag', price: 29 }] }).expect(200);
    await waitFor(async () => (await emailsOf(userId)).length === 1, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the confirmation of the payment' });
    const after = await committed();
    expect(after.order).toBeGreaterThan(before.order);
    expect(after.email).toBeGreaterThan(before.email);
    // The email service timed it from the payment's acceptance (a header order passes on) to the email sent.
    const timedAfter = await timed();
    expect(timedAfter.count).toBeGreaterThan(timedBefore.count);
    const meanSeconds = (timedAfter.sum - timedBefore.sum) / (timedAfter.count - timedBefore.count);
    expect(meanSeconds).toBeGreaterThan(0);
    expect(meanSeconds).toBeLessThan(CHAIN_DEADLINE_MS / 1000);

    for (const spec of testChainSpecs().filter((s) => s.service !== 'payment')) {
      const text = await metricsText(`http://127.0.0.1:${spec.port}`);
      expect(text).toMatch(/^kafka_consumer_rebalances_total \d+$/m);
      expect(text).toMatch(/^kafka_partitions_stalled\{topic="[a-z-]+"\} \d+$/m);
      // The consume engine's load: drained, nothing runs or waits, and no partition is paused by back-pressure.
      expect(text).toMatch(/^kafka_consumer_records_in_flight \d+$/m);
      expect(text).toMatch(/^kafka_consumer_records_waiting \d+$/m);
      expect(text).toMatch(/^kafka_consumer_partitions_paused 0$/m);
      expect(text).toMatch(/^kafka_consumer_records_held\{topic="[a-z-]+",partition="\d+"\} \d+$/m);
      // Every crash the service logged is counted, and only those (the unit spec makes one and counts it).
      const crashesLogged = (await serviceLogs(spec.label)).filter((line) => line.includes('consumer crashed')).length;
      expect(text).toMatch(new RegExp(`^kafka_consumer_crashes_total ${crashesLogged}$`, 'm'));
    }
  });

  it('counts the rebalances an instance takes part in: one as a peer leaves, one as it comes back', async () => {
    await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
    const rebalances = () => sample(urlOf('order-1'), 'kafka_consumer_rebalances_total');
    const before = await rebalances();
    await stopService('order-3');
    await waitForSplit(['order-1', 'order-2'], 'the two others to own the three partitions');
    const afterLeaving = await rebalances();
    expect(afterLeaving).toBeGreaterThanOrEqual(before + 1);
    await startService('order-3');
    await waitForSplit(ORDER_INSTANCES, 'order-3 to rejoin and the three to split the partitions again');
    expect(await rebalances()).toBeGreaterThanOrEqual(afterLeaving + 1);
  });

  it("reports a lag that is there: order-1's gauge of a partition whose owner is frozen equals the broker's own figure", async () => {
    const owned = await waitForSplit(ORDER_INSTANCES, 'three instances to own one partition each');
    const [partition] = owned.get('order-2')!;
    const series = `kafka_consumer_group_lag{group="${CONSUMER_GROUPS.order}",topic="${TOPICS.paymentSuccessful}",partition="${partition}"}`;
    // Frozen (SIGSTOP), order-2 keeps its partition until its session times out (10 s), consuming nothing.
    await signalService('order-2', 'SIGSTOP');
    try {
      const producer = await connectedProducer();
      await producer.send({
        topic: TOPICS.paymentSuccessful,
        messages: Array.from({ length: 25 }, (_, i) => ({ key: String(i), partition, value: JSON.stringify({ user_id: freshUserId(), cart: [{ name: 'Lag probe', price: 1 }], timestamp: 1 }) })),
      }).finally(() => producer.disconnect());
      const broker = () => brokerLag(CONSUMER_GROUPS.order, TOPICS.paymentSuccessful, partition);
      const [gauge, lag] = await waitFor(async () => {
        const both = [await sample(urlOf('order-1'), series), await broker()];
        return both[0] >= 25 && both;
      }, { timeoutMs: 5000, what: `order-1 to report the lag of partition ${partition}` });
      expect(gauge).toBe(lag);
    } finally {
      await signalService('order-2', 'SIGCONT');
    }
    await waitForSplit(ORDER_INSTANCES, 'the three instances to own one partition each again');
  });

  it("reports email's lag too: its gauge of a partition stalled on a missing table equals the broker's own figure", async () => {
    const partition = 1;
    const series = `kafka_consumer_group_lag{group="${CONSUMER_GROUPS.email}",topic="${TOPICS.orderCreated}",partition="${partition}"}`;
    const users = Array.from({ length: 25 }, () => freshUserId());
    // Nothing else may land on the partition between the two readings: the test before leaves order handling
    // its own probes, whose orders reach order-created (in one run the broker's figure was 11 above the gauge).
    await chainQuiet();
    // The emails table renamed away: email retries the partition's first record and keeps the rest behind it.
    await queryTestDatabase('ALTER TABLE email.emails RENAME TO emails_away');
    try {
      const producer = await connectedProducer();
      await producer.send({
        topic: TOPICS.orderCreated,
        messages: users.map((userId) => ({ key: String(userId), partition, value: JSON.stringify(orderCreatedEvent(userId, { name: 'Lag probe', price: 1, paymentPrefix: 'email-lag' })) })),
      }).finally(() => producer.disconnect());
      const broker = () => brokerLag(CONSUMER_GROUPS.email, TOPICS.orderCreated, partition);
      const [gauge, lag] = await waitFor(async () => {
        const both = [await sample(urlOf('email'), series), await broker()];
        return both[0] >= users.length && both;
      }, { timeoutMs: 15_000, what: `email to report the lag of partition ${partition}` });
      expect(gauge).toBe(lag);
    } finally {
      await queryTestDatabase('ALTER TABLE IF EXISTS email.emails_away RENAME TO emails');
    }
    // The table back, every order of the probe gets its email, and the lag goes back to 0.
    for (const userId of users) {
      await waitFor(async () => (await emailsOf(userId)).length === 1, { timeoutMs: CHAIN_DEADLINE_MS, what: `the email of user ${userId}` });
    }
    await waitFor(async () => (await sample(urlOf('email'), series)) === 0, { timeoutMs: 15_000, what: `email's lag of partition ${partition} back to 0` });
  });

  it.each([
    ['analytics', 'analytics-service-group', ['payment-successful', 'order-created', 'email-sent']],
    ['email', 'email-service-group', ['order-created']],
    ['order-1', 'order-service-group', ['payment-successful']],
  ] as const)('%s exports the consumer lag of its group for every partition it reads, and no other group', async (label, group, topics) => {
    const text = await metricsText(urlOf(label));
    for (const topic of topics) {
      for (const partition of [0, 1, 2]) {
        expect(text).toMatch(new RegExp(`^kafka_consumer_group_lag\\{group="${group}",topic="${topic}",partition="${partition}"\\} \\d+$`, 'm'));
      }
    }
    const series = text.split('\n').filter((l) => l.startsWith('kafka_consumer_group_lag{'));
    expect(series).toHaveLength(topics.length * 3);
  });
});
