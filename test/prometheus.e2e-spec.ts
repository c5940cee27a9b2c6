import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainDashboard, dashboardQueries } from '../docker/grafana/dashboard';
import { LocalPrometheus, scrapeTargets } from '../scripts/lib/prometheus';
import { waitFor } from '../scripts/lib/wait';
import { TEST_PORT_OFFSET, testChainSpecs, urlOf } from './support/environment';
import { CHAIN_DEADLINE_MS, emailsOf, freshUserId, payment } from './support/http';
import { metricsText, sample } from './support/metrics';
import { asPrometheusQuery, exportedNames, metricNames } from './support/promql';

interface Target {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface Rule {
  name: string;
  type: 'alerting' | 'recording';
  health: 'ok' | 'err' | 'unknown';
  lastError?: string;
}

/** Debian's Prometheus on docker/prometheus's files, scraping the test chain (`npm run prometheus` does the same for `npm start`'s). */
describe("Prometheus on the project's configuration", () => {
  const specs = testChainSpecs();
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-e2e-'));
  let prometheus: LocalPrometheus;

  beforeAll(async () => {
    prometheus = await LocalPrometheus.start({ dir, port: 9090 + TEST_PORT_OFFSET, targets: scrapeTargets('127.0.0.1', specs) });
  });
  afterAll(async () => {
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const query = async (expr: string) => prometheus.api<{ result: Sample[] }>('query', { query: expr });

  it('scrapes every service of the chain, the three order instances included, and finds each up', async () => {
    const targets = await waitFor(
      async () => {
        const { activeTargets } = await prometheus.api<{ activeTargets: Target[] }>('targets');
        return activeTargets.length === specs.length && activeTargets.every((t) => t.health === 'up') && activeTargets;
      },
      { timeoutMs: 60_000, what: `all ${specs.length} targets up` },
    );
    expect(targets.map((t) => `${t.labels.service} ${t.labels.instance}`).sort()).toEqual(specs.map((s) => `${s.service} 127.0.0.1:${s.port}`).sort());
    const up = (await query('sum by (service) (up{job="black-friday-chain"})')).result.map((s) => [s.metric.service, Number(s.value[1])]);
    expect(Object.fromEntries(up)).toEqual({ payment: 1, order: 3, email: 1, analytics: 1 });
  });

  it("collects the chain's key series as a payment goes through it", async () => {
    const userId = freshUserId();
    await payment().post('/payment').send({ user_id: userId, cart: [{ name: 'Vision Pro', price: 3499 }] }).expect(200);
    await waitFor(async () => (await emailsOf(userId)).length === 1, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the confirmation of the payment' });
    // The payment service's own count, this payment included: Prometheus must come to show it.
    const revenue = await sample(urlOf('payment'), 'payment_amount_total');
    expect(revenue).toBeGreaterThanOrEqual(3499);
    const series = [
      'kafka_messages_sent_total{event_type="email-sent"}',
      'kafka_messages_consumed_total{service="order",topic="payment-successful",outcome="processed"}',
      'kafka_handler_duration_seconds_count{service="email"}',
      'kafka_transactions_total{service="order",outcome="committed"}',
      'kafka_consumer_group_lag{group="order-service-group"}',
      'payment_to_email_seconds_count',
      'http_requests_total{service="payment",route="/payment",status="200"}',
      'process_resident_memory_bytes{service="analytics"}',
    ];
    // A scrape every 5 s: the payment's counts arrive within a few.
    const seen = await waitFor(
      async () => {
        const scraped = (await query('payment_amount_total')).result.map((s) => Number(s.value[1]));
        if (!scraped.some((value) => value >= revenue)) return false;
        const results = await Promise.all(series.map(async (s) => [s, (await query(s)).result] as const));
        return results.every(([, samples]) => samples.length > 0) && results;
      },
      { timeoutMs: 30_000, what: 'the payment and every key series in Prometheus' },
    );
    // Every order instance reports its group's lag for the three partitions.
    expect(seen.find(([s]) => s.startsWith('kafka_consumer_group_lag'))![1]).toHaveLength(3 * 3);
  });

  it('loads the alert rules and evaluates every one without error', async () => {
    const rules = await waitFor(
      async () => {
        const { groups } = await prometheus.api<{ groups: Array<{ rules: Rule[] }> }>('rules');
        const all = groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((r) => r.health !== 'unknown') && all;
      },
      { timeoutMs: 30_000, what: 'every rule evaluated once' },
    );
    expect(rules.filter((r) => r.type === 'alerting').map((r) => r.name).sort()).toEqual(
      ['ConsumerCrashing', 'ConsumerLagGrowing', 'DeadLettersArriving', 'PartitionStalled', 'PaymentToEmailSlow', 'ServiceDown'],
    );
    expect(rules.map((r) => ({ name: r.name, health: r.health, lastError: r.lastError ?? '' }))).toEqual(rules.map((r) => ({ name: r.name, health: 'ok', lastError: '' })));
    // The recording rule reads the real lag gauge: one sum per group of the chain.
    const recorded = await waitFor(async () => {
      const { result } = await query('group:kafka_consumer_group_lag:sum');
      return result.length === 3 && result;
    }, { timeoutMs: 30_000, what: 'the lag of the three groups recorded' });
    expect(recorded.map((s) => s.metric.group).sort()).toEqual(['analytics-service-group', 'email-service-group', 'order-service-group']);
  });

  it("has the dashboard's queries read only series the services export, and runs each", async () => {
    const exported = new Set<string>();
    for (const spec of specs) for (const name of exportedNames(await metricsText(`http://127.0.0.1:${spec.port}`))) exported.add(name);
    // What Prometheus adds to every target.
    exported.add('up');
    expect(exported).toContain('kafka_handler_retries_total');
    const queries = dashboardQueries(chainDashboard());
    expect(queries.length).toBeGreaterThanOrEqual(20);
    const unknown = queries.flatMap((q) => metricNames(q).filter((name) => !exported.has(name)).map((name) => `${name} in ${q}`));
    expect(unknown).toEqual([]);
    // Prometheus runs each (an invalid one fails the query); those without a range (lag, stalled, up) have data
    // already, where a rate needs two scrapes of a series that has moved.
    const answered = await Promise.all(queries.map(async (q) => [q, (await query(asPrometheusQuery(q))).result.length] as const));
    const instant = answered.filter(([q]) => !q.includes('['));
    expect(instant.length).toBeGreaterThanOrEqual(3);
    expect(instant.filter(([, n]) => n === 0)).toEqual([]);
  });

  it('serves its graph page, the local view of the series, offering the chain\'s own series by name', async () => {
    const page = await fetch(`${prometheus.url}/graph`);
    expect(page.status).toBe(200);
    // The names the graph page lists as it is typed into: what it reads from the server it was served by.
    const names = await fetch(`${prometheus.url}/api/v1/label/__name__/values`);
    const { data } = (await names.json()) as { data: string[] };
    expect(data).toEqual(expect.arrayContaining(['kafka_transactions_total', 'kafka_messages_sent_total', 'kafka_consumer_group_lag']));
  });
});
