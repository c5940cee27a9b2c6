import { randomUUID } from 'node:crypto';
import { TOPICS } from '@app/contracts';
import type { Producer } from 'kafkajs';
import { ServiceProcess } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { startServices, stopServices } from './support/chain-control';
import { queryTestDatabase } from './support/database';
import { TEST_PORT_OFFSET, testServiceEnv } from './support/environment';
import { expectExactlyOnce, mainChain, ordersMade, settleAndCount } from './support/exactly-once';
import { freshUserId, joinedGroup } from './support/http';
import { connectedProducer } from './support/kafka';
import { ORDER_INSTANCES, waitForSplit } from './support/ownership';
import { readTopics } from './support/topic-reader';

/** Others on the slow customer's partition, behind the slow one. */
const OTHERS = 30;

interface OrderRow {
  payment_id: string;
  instance_id: string;
}

/**
 * The consume engine's promise, on one partition: a slow key holds only itself. One order instance owns every
 * partition; one customer's step takes 60 s (PROCESSING_DELAY_USERS), and their payment comes first on its
 * partition, the others' after it. The others are handled meanwhile, finishing before a record that comes before
 * them: their offsets cannot be committed past it, and exactly once their events wait in their stage. The instance
 * is then stopped mid-flight, and the chain's three instances take over: every payment still makes one
 * order-created and one email-sent.
 */
describe('a slow customer holds only their own key (one partition, records finishing out of order)', () => {
  let producer: Producer;
  let slow: ServiceProcess | undefined;

  beforeAll(async () => {
    producer = await connectedProducer();
  });

  // A test that failed half-way leaves its instance running: it must not outlive the test (nor hold jest open).
  afterEach(async () => {
    await slow?.stop('SIGKILL');
    slow = undefined;
  });

  afterAll(async () => {
    await producer.disconnect();
    await startServices(ORDER_INSTANCES);
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('handles the other customers while the slow one waits; after a %s mid-flight, each payment is one order-created and one email-sent', async (signal) => {
    const run = `keys-${signal.toLowerCase()}-${randomUUID().slice(0, 8)}`;
    const slowUser = freshUserId();
    await stopServices(ORDER_INSTANCES);
    slow = ServiceProcess.start(
      {
        service: 'order',
        label: 'order-keys',
        port: 8031 + TEST_PORT_OFFSET,
        env: { INSTANCE_ID: 'keys', PROCESSING_DELAY_MS: '60000', PROCESSING_DELAY_USERS: String(slowUser) },
      },
      testServiceEnv(),
    );
    await slow.waitHealthy();
    await joinedGroup(slow.url, 3);

    const payment = (id: string, user: number) => ({
      partition: 0,
      key: String(user),
      value: JSON.stringify({ payment_id: id, user_id: user, cart: [{ name: 'AirPods Pro', price: 249, quantity: 1 }], amount: 249, timestamp: 1 }),
    });
    const slowPayment = `${run}-slow`;
    const others = Array.from({ length: OTHERS }, (_, i) => ({ id: `${run}-${i}`, user: slowUser + 1 + i }));
    await producer.send({ topic: TOPICS.paymentSuccessful, acks: -1, messages: [payment(slowPayment, slowUser), ...others.map((o) => payment(o.id, o.user))] });

    // The others are stored by the instance while the slow customer's step still runs.
    const made = await waitFor(async () => {
      const rows = await queryTestDatabase<OrderRow>('SELECT payment_id, instance_id FROM orders.orders WHERE payment_id LIKE $1', [`${run}-%`]);
      return rows.length >= OTHERS ? rows : undefined;
    }, { timeoutMs: 30_000, what: `the ${OTHERS} other customers' orders while the slow one waits` });
    expect(made.map((r) => r.payment_id).sort()).toEqual(others.map((o) => o.id).sort());
    expect(new Set(made.map((r) => r.instance_id))).toEqual(new Set(['keys']));
    // Their order-created events left too, committed ahead of the slow record (in the offset's metadata): the
    // email service, which reads read_committed, has sent their confirmations while the slow step still runs.
    await waitFor(async () => {
      const [{ count }] = await queryTestDatabase<{ count: string }>(
        `SELECT count(*) FROM email.emails e JOIN orders.orders o ON o.order_id = e.order_id WHERE o.payment_id LIKE $1 AND e.status = 'sent'`,
        [`${run}-%`],
      );
      return Number(count) === OTHERS ? true : undefined;
    }, { timeoutMs: 30_000, what: `the ${OTHERS} other customers' confirmations while the slow one waits` });

    // Mid-flight: the slow record runs, the others are done but cannot be committed past it.
    await slow.stop(signal);
    expect(signal === 'SIGKILL' ? slow.exitSignal : slow.exitCode).toBe(signal === 'SIGKILL' ? 'SIGKILL' : 0);

    await startServices(ORDER_INSTANCES);
    await waitForSplit(ORDER_INSTANCES, 'the three instances to own one partition each');
    const counts = await settleAndCount(mainChain(), run, OTHERS + 1);
    expect(counts.orders.has(slowPayment)).toBe(true);
    expectExactlyOnce(counts, OTHERS + 1);
  });
});

/** Customers and payments of the joining test: a slow customer's lane holds ROUNDS steps of STEP_MS, a fast one's none. */
const CUSTOMERS = 40;
const ROUNDS = 8;
const STEP_MS = 1000;

/**
 * An instance joining a group whose only member has hundreds of records in flight. Half the customers are slow
 * (a step of STEP_MS), half fast, their payments interleaved on each partition: the fast ones' records finish
 * ahead of slow ones before them, and are committed ahead (in the offset's metadata). The member's partitions
 * move while records run: their work never commits, the joiner takes them over from what was committed and
 * skips what was committed ahead, the member refetches what it keeps and does not run it twice; and every
 * payment is still one order-created and one email-sent, each customer's in payment order.
 */
describe('an order instance joining under load', () => {
  let producer: Producer;
  const instances: ServiceProcess[] = [];

  beforeAll(async () => {
    producer = await connectedProducer();
  });

  afterEach(async () => {
    await Promise.all(instances.splice(0).map((instance) => instance.stop('SIGKILL')));
  });

  afterAll(async () => {
    await producer.disconnect();
    await startServices(ORDER_INSTANCES);
  });

  const start = (id: string, port: number, slow: number[]) => {
    const instance = ServiceProcess.start(
      {
        service: 'order',
        label: `order-${id}`,
        port: port + TEST_PORT_OFFSET,
        env: { INSTANCE_ID: id, PROCESSING_DELAY_MS: String(STEP_MS), PROCESSING_DELAY_USERS: slow.join(',') },
      },
      testServiceEnv(),
    );
    instances.push(instance);
    return instance;
  };

  it("takes partitions over mid-flight: one order-created and one email-sent per payment, each customer's in payment order", async () => {
    const run = `join-${randomUUID().slice(0, 8)}`;
    const customers = Array.from({ length: CUSTOMERS }, () => freshUserId());
    const slow = customers.filter((_, i) => i % 2 === 0);
    await stopServices(ORDER_INSTANCES);
    const first = start('join-a', 8032, slow);
    await first.waitHealthy();
    await joinedGroup(first.url, 3);

    const paymentId = (customer: number, round: number) => `${run}-${customer}-${round}`;
    const messages = Array.from({ length: ROUNDS }, (_, round) =>
      customers.map((customer) => ({
        key: String(customer),
        value: JSON.stringify({ payment_id: paymentId(customer, round), user_id: customer, cart: [{ name: 'AirPods Pro', price: 249, quantity: 1 }], amount: 249, timestamp: 1 }),
      })),
    ).flat();
    await producer.send({ topic: TOPICS.paymentSuccessful, acks: -1, messages });

    // Under way: every fast customer's orders and the slow ones' first round are stored; the slow lanes hold the rest.
    const underWay = (customers.length - slow.length) * ROUNDS + slow.length;
    await waitFor(async () => ((await ordersMade(mainChain(), run)) >= underWay ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 50,
      what: "the fast customers' orders and the slow ones' first",
    });
    const second = start('join-b', 8033, slow);
    await second.waitHealthy();
    await waitFor(async () => {
      const [a, b] = await Promise.all([first, second].map((instance) => joinedGroup(instance.url)));
      const owned = [a, b].map((health) => Object.values<number[]>(health.body.details.kafka.assignments).flat().length);
      return owned[0] + owned[1] === 3 && owned.every((count) => count > 0) ? true : undefined;
    }, { timeoutMs: 60_000, what: 'the two instances to share the three partitions' });

    const counts = await settleAndCount(mainChain(), run, CUSTOMERS * ROUNDS);
    expectExactlyOnce(counts, CUSTOMERS * ROUNDS);
    // The joiner took work over: both instances stored orders of the run.
    expect(await ordersMade(mainChain(), run, 'join-b')).toBeGreaterThan(0);
    expect(await ordersMade(mainChain(), run, 'join-a')).toBeGreaterThanOrEqual(underWay);

    // Each customer's order-created events (one partition per customer, read in offset order) in payment order.
    const byCustomer = new Map<string, string[]>();
    await readTopics([TOPICS.orderCreated], (_topic, message) => {
      // The topic holds other suites' records too, hostile ones among them: only this run's are read.
      const value = String(message.value);
      if (!value.includes(`"${run}-`)) return;
      const { payment_id: id } = JSON.parse(value) as { payment_id: string };
      byCustomer.set(String(message.key), [...(byCustomer.get(String(message.key)) ?? []), id]);
    });
    expect(byCustomer.size).toBe(CUSTOMERS);
    for (const customer of customers) {
      expect(byCustomer.get(String(customer))).toEqual(Array.from({ length: ROUNDS }, (_, round) => paymentId(customer, round)));
    }
  });
});
