import { CONSUMER_GROUPS, GROUP_TOPICS, TOPICS } from '@app/contracts';
import { ServiceProcess, type ServiceSpec } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { TEST_PORT_OFFSET, testServiceEnv, urlOf } from './support/environment';
import { freshUserId, joinedGroup, reader, statistics } from './support/http';
import { serviceLogs } from './support/chain-control';
import { chainQuiet, connectedProducer, withAdmin } from './support/kafka';
import { groupCaughtUp } from './support/topic-reader';

const BURST = 1000;

/** The payments an analytics process logged as counted, by the record they came in (the lines carry it). */
function countedPayments(lines: string[]): Array<{ partition: number; offset: string }> {
  return lines
    .filter((l) => l.includes('"counted payment '))
    .map((l) => JSON.parse(l) as { topic: string; partition: number; offset: string })
    .filter((l) => l.topic === TOPICS.paymentSuccessful)
    .map(({ partition, offset }) => ({ partition, offset }));
}

/** The analytics group's committed offsets on payment-successful, by partition, as the broker has them. */
function committedOffsets(): Promise<Map<number, bigint>> {
  return withAdmin(async (admin) => {
    const [topic] = await admin.fetchOffsets({ groupId: CONSUMER_GROUPS.analytics, topics: [TOPICS.paymentSuccessful] });
    return new Map(topic.partitions.map((p) => [p.partition, p.offset === '-1' ? 0n : BigInt(p.offset)]));
  });
}

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

    // Frozen (SIGSTOP), it can commit nothing more: kill it only once it has handled records past what its group
    // committed, so that they must be delivered again.
    const killed = extra;
    const uncommitted = await waitFor(async () => {
      const handled = countedPayments(killed.logs());
      if (handled.length === 0) return false;
      killed.child.kill('SIGSTOP');
      const committed = await committedOffsets();
      const pending = handled.filter((r) => BigInt(r.offset) >= (committed.get(r.partition) ?? 0n));
      if (pending.length > 0) return pending;
      killed.child.kill('SIGCONT');
      return false;
    }, { timeoutMs: 30_000, intervalMs: 20, what: 'the second instance to have handled records it has not committed' });
    await killed.stop('SIGKILL');
    expect(killed.exitSignal).toBe('SIGKILL');
    extra = ServiceProcess.start(spec, testServiceEnv());
    await extra.waitHealthy();

    await groupCaughtUp(CONSUMER_GROUPS.analytics, GROUP_TOPICS[CONSUMER_GROUPS.analytics], undefined, 60_000);
    // Each record it had handled but not committed was handled again, by the new instance or the first one...
    const again = new Set([...countedPayments(extra.logs()), ...countedPayments(await serviceLogs('analytics'))].map((r) => `${r.partition}@${r.offset}`));
    expect(uncommitted.filter((r) => !again.has(`${r.partition}@${r.offset}`))).toEqual([]);
    // ...and still counted once.
    const after = (await reader(extra.url).get('/analytics').expect(200)).body;
    expect(after.total_payments - before.total_payments).toBe(BURST);
    expect(after.revenue - before.revenue).toBeCloseTo(BURST * 249, 2);
    expect(after.unique_users - before.unique_users).toBe(BURST);
    expect(await statistics()).toMatchObject({ total_payments: after.total_payments, revenue: after.revenue });
  });
});
