import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { ServiceProcess, type ServiceSpec } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { startService, stopService } from './support/chain-control';
import { TEST_PORT_OFFSET, testServiceEnv, urlOf } from './support/environment';
import { CHAIN_DEADLINE_MS, freshUserId, joinedGroup, ordersArriving, ordersOf } from './support/http';
import { connectedProducer, withAdmin } from './support/kafka';
import { metric } from './support/metrics';

const transactions = (url: string) => metric(url, /^kafka_transactions_total\{/);
const ordersSent = (url: string) => metric(url, /^kafka_messages_sent_total\{.*event_type="order-created"/);

/**
 * The documented switch, on which the benchmark's comparison rests: an order instance started with
 * DELIVERY=at-least-once publishes its orders at once, with no transaction, while its peers (exactly once,
 * the default) keep theirs.
 */
describe('DELIVERY=at-least-once', () => {
  const spec: ServiceSpec = { service: 'order', label: 'order-at-least-once', port: 8017 + TEST_PORT_OFFSET, env: { INSTANCE_ID: '3', DELIVERY: 'at-least-once' } };
  let replacement: ServiceProcess | undefined;

  // Leave the chain as the other suites expect it: its three order instances, one partition each.
  afterAll(async () => {
    await replacement?.stop();
    await startService('order-3');
    for (const label of ['order-1', 'order-2', 'order-3'] as const) await joinedGroup(urlOf(label), 1);
  });

  it('turns the transactions off for the instance that has it, and each payment still makes one order', async () => {
    await stopService('order-3');
    replacement = ServiceProcess.start(spec, testServiceEnv());
    await replacement.waitHealthy();
    // Three members, three partitions: one each, the replacement's included.
    await joinedGroup(replacement.url, 1);
    for (const label of ['order-1', 'order-2'] as const) await joinedGroup(urlOf(label), 1);
    const peerTransactionsBefore = await transactions(urlOf('order-1'));

    const users = [0, 1, 2].map(() => freshUserId());
    const producer = await connectedProducer();
    let written;
    try {
      written = await producer.send({
        topic: TOPICS.paymentSuccessful,
        acks: -1,
        messages: users.map((userId, partition) => ({
          partition,
          key: String(userId),
          value: JSON.stringify({ user_id: userId, cart: [{ name: 'PlayStation 5', price: 499, quantity: 1 }], timestamp: 1 }),
        })),
      });
    } finally {
      await producer.disconnect();
    }
    for (const userId of users) await ordersArriving(userId, `the order of user ${userId}`);

    // The replacement made an order of its partition's payment and sent it with no transaction at all...
    expect(await ordersSent(replacement.url)).toBeGreaterThanOrEqual(1);
    expect(await transactions(replacement.url)).toBe(0);
    // ...while a peer with the default still commits in transactions.
    expect(await transactions(urlOf('order-1'))).toBeGreaterThan(peerTransactionsBefore);
    for (const userId of users) expect(await ordersOf(userId)).toHaveLength(1);
    // Its offsets are committed all the same, on the committer's interval: the group moves past every payment.
    await withAdmin((admin) =>
      waitFor(async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: CONSUMER_GROUPS.order, topics: [TOPICS.paymentSuccessful] });
        return written.every((w) => BigInt(offsets.partitions.find((p) => p.partition === w.partition)?.offset ?? '-1') > BigInt(w.baseOffset!));
      }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the order group to commit past the three payments' }),
    );
  });
});
