import { spawnSync } from 'node:child_process';
import { DLQ_TOPICS, TOPICS, type DeadLetterRecord } from '@app/contracts';
import { REPO_ROOT } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { testBrokers, urlOf } from './support/environment';
import { CHAIN_DEADLINE_MS, freshUserId, ordersOf, statistics } from './support/http';
import { chainQuiet } from './support/kafka';
import { sample } from './support/metrics';
import { readTopics } from './support/topic-reader';
import { scriptArgs } from './support/scripts';

/** One of the project's tools (`npm run <name> -- args`), run as npm runs it, against the test chain's broker. */
function tool(name: string, args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(...scriptArgs(name, args), {
    cwd: REPO_ROOT,
    env: { ...process.env, KAFKA_BROKERS: testBrokers().join(','), ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const lines = run.stdout.trim().split('\n').filter(Boolean);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, lines, last: lines.at(-1) ?? '' };
}

const SENT = /^sent (\d+) payments \((\d+) failed\) in (\d+\.\d\d) s: [\d,.]+k? payments\/s via (kafka|http)$/;

describe('the tools of the README, as a user runs them', () => {
  it('npm run flood -n N sends N payments to the topic, each becoming a payment the chain counts', async () => {
    await chainQuiet();
    const before = await statistics();
    const run = tool('flood', ['-n', '300', '--batch', '100']);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.last).toMatch(SENT);
    expect(SENT.exec(run.last)!.slice(1, 3).concat(SENT.exec(run.last)![4])).toEqual(['300', '0', 'kafka']);
    await chainQuiet();
    const after = await statistics();
    expect({ payments: after.total_payments - before.total_payments, orders: after.total_orders - before.total_orders }).toEqual({ payments: 300, orders: 300 });
  });

  it('npm run flood --via http posts to the payment service, --rate caps the pace, and a dead broker fails it', async () => {
    const accepted = 'http_requests_total{method="POST",route="/payment",status="200"}';
    const before = await sample(urlOf('payment'), accepted);
    const http = tool('flood', ['-n', '50', '--via', 'http', '--concurrency', '8', '--url', urlOf('payment')]);
    expect({ status: http.status, last: http.last }).toEqual({ status: 0, last: expect.stringMatching(/^sent 50 payments \(0 failed\) in .* via http$/) });
    expect(await sample(urlOf('payment'), accepted)).toBe(before + 50);

    // 100 payments at 100 a second: a second at least, however fast the broker takes them.
    const paced = tool('flood', ['-n', '100', '--rate', '100']);
    expect(paced.status).toBe(0);
    expect(Number(SENT.exec(paced.last)?.[3])).toBeGreaterThanOrEqual(0.9);

    const dead = tool('flood', ['-n', '5'], { KAFKA_BROKERS: '127.0.0.1:1' });
    expect(dead.status).toBe(1);
    expect(dead.stderr).toMatch(/\S/);
  });

  it('npm run poison writes the pills and a good payment behind them: each pill dead-lettered once per group, the payment an order', async () => {
    const userId = freshUserId();
    const run = tool('poison', ['--user', String(userId)]);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    const pills = run.lines.filter((l) => l.startsWith('poison  '));
    expect(pills.length).toBeGreaterThanOrEqual(5);
    expect(run.lines.filter((l) => l.startsWith('good    '))).toHaveLength(1);
    expect(run.last).toMatch(new RegExp(`^Expect ${pills.length} dead letters per consumer group in dlq-payment \\(npm run dlq\\), and an order for user ${userId} `));
    await waitFor(async () => (await ordersOf(userId)).length === 1, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the good payment behind the pills to become an order' });
    // The pills' places, from its lines; order and analytics read payment-successful and dead-letter each.
    const places = new Set(pills.map((l) => /@(\d+) /.exec(l)![1]));
    await chainQuiet();
    const byGroup = new Map<string, number>();
    await readTopics([DLQ_TOPICS[TOPICS.paymentSuccessful]], (_topic, message) => {
      const letter = JSON.parse(String(message.value)) as DeadLetterRecord;
      if (places.has(letter.offset) && letter.original_key === String(userId)) byGroup.set(letter.group, (byGroup.get(letter.group) ?? 0) + 1);
    });
    expect(Object.fromEntries(byGroup)).toEqual({ 'order-service-group': pills.length, 'analytics-service-group': pills.length });
  });

  it('npm run lag shows every group at 0 on a quiet chain, and --watch says so at once', async () => {
    await chainQuiet();
    const run = tool('lag', ['--json']);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.last) as { total: number; groups: Array<{ group: string; lag: number; partitions: Array<{ topic: string; partition: number; lag: number }> }> };
    expect(report.groups.map((g) => [g.group, g.partitions.length])).toEqual([
      ['order-service-group', 3],
      ['email-service-group', 3],
      ['analytics-service-group', 9],
    ]);
    expect({ total: report.total, lagging: report.groups.flatMap((g) => g.partitions).filter((p) => p.lag !== 0) }).toEqual({ total: 0, lagging: [] });
    const watch = tool('lag', ['--watch', '--timeout', '10']);
    expect(watch.status).toBe(0);
    // At once: the first look finds the chain at 0 and says so, with the table that shows it.
    expect(watch.stdout).toMatch(/^lag is already 0$/m);
    expect(watch.stdout).toMatch(/order-service-group/);
    expect(watch.stdout).not.toMatch(/reached 0 after/);
  });

  it('npm run topics lists the event and DLQ topics with their partitions', () => {
    const run = tool('topics', []);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    for (const topic of [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent]) expect(run.stdout).toMatch(new RegExp(`^${topic} +3 partition\\(s\\), 1 replica\\(s\\) each`, 'm'));
    for (const topic of Object.values(DLQ_TOPICS)) expect(run.stdout).toMatch(new RegExp(`^${topic} +1 partition\\(s\\)`, 'm'));
  });
});
