import { CONSUMER_GROUPS, GROUP_TOPICS, TOPICS } from '@app/contracts';
import { describeLag, totalLag } from '@app/kafka';
import { ServiceProcess, type ServiceSpec } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { TEST_PORT_OFFSET, testServiceEnv, urlOf } from './support/environment';
import { freshUserId, joinedGroup, reader, statistics } from './support/http';
import { chainQuiet, connectedProducer, withAdmin } from './support/kafka';

const BURST = 1000;

/**
 * A second analytics instance joins the group, is killed (SIGKILL) in the middle of a burst, and comes back:
 * the records it had handled but not committed are delivered again, and each must still count once.
 */
describe('analytics across a crash and restart', () => {
  const spec: ServiceSpec = { service: 'analytics', label: 'analytics-2', port: 8013 + TEST_PORT_OFFSET, env: { INSTANCE_ID: '2' } };
  let extra: ServiceProcess | undefined;

  // Leave the chain as the other suites expect it: the first analytics instance alone in its group, owning every partition.
  afterAll(async () => {
    await extra?.stop();
    await joinedGroup(urlOf('analytics'), GROUP_TOPICS[CONSUMER_GROUPS.analytics].length * 3);
  });

  it('keeps its figures and counts every event exactly once', async () => {
    extra = ServiceProcess.start(spec, testServiceEnv());
    await extra.waitHealthy();
    await joinedGroup(extra.url);
    await chainQuiet();
    const before = await statistics();

    const producer = await connectedProducer();
    const firstUser = freshUserId();
    const payments = Array.from({ length: BURST }, (_, i) => ({
      key: String(firstUser + i),
      value: JSON.stringify({ user_id: firstUser + i, cart: [{ name: 'AirPods Pro', price: 249, quantity: 1 }], timestamp: 1 }),
    }));
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: payments });
    await producer.disconnect();

    await waitFor(async () => (await statistics()).total_payments > before.total_payments, { timeoutMs: 30_000, what: 'the burst to start being counted' });
    await extra.stop('SIGKILL');
    expect(extra.exitSignal).toBe('SIGKILL');
    extra = ServiceProcess.start(spec, testServiceEnv());
    await extra.waitHealthy();

    const analyticsOnly = { [CONSUMER_GROUPS.analytics]: GROUP_TOPICS[CONSUMER_GROUPS.analytics] };
    await withAdmin((admin) =>
      waitFor(async () => totalLag(await describeLag(admin, analyticsOnly)) === 0, { timeoutMs: 60_000, what: 'analytics to drain the burst' }),
    );
    const after = (await reader(extra.url).get('/analytics').expect(200)).body;
    expect(after.total_payments - before.total_payments).toBe(BURST);
    expect(after.revenue - before.revenue).toBeCloseTo(BURST * 249, 2);
    expect(after.unique_users - before.unique_users).toBe(BURST);
    expect(await statistics()).toMatchObject({ total_payments: after.total_payments, revenue: after.revenue });
  });
});
