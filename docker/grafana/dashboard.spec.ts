import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricNames } from '../../test/support/promql';
import { chainDashboard, DASHBOARD_FILE, dashboardJson, dashboardQueries, DATASOURCE } from './dashboard';

describe('docker/grafana', () => {
  it('provisions the dashboard as docker/grafana/dashboard.ts builds it (`npm run dashboard` writes it)', () => {
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(dashboardJson());
  });

  it('reads every panel from the provisioned Prometheus data source', () => {
    const provisioned = readFileSync(join(__dirname, 'provisioning/datasources/prometheus.yml'), 'utf8');
    expect(provisioned).toMatch(new RegExp(`^\\s+uid: ${DATASOURCE.uid}$`, 'm'));
    expect(provisioned).toMatch(new RegExp(`^\\s+type: ${DATASOURCE.type}$`, 'm'));
    const panels = (chainDashboard().panels ?? []).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(12);
    for (const panel of panels) expect({ title: panel.title, datasource: (panel as { datasource?: unknown }).datasource }).toEqual({ title: panel.title, datasource: DATASOURCE });
  });

  it('shows sales, lag, dead letters, retries and latencies, each query valid PromQL', () => {
    const queries = dashboardQueries(chainDashboard());
    const read = new Set(queries.flatMap(metricNames));
    for (const name of [
      'kafka_messages_sent_total',
      'payment_amount_total',
      'kafka_consumer_group_lag',
      'kafka_messages_dead_lettered_total',
      'kafka_handler_retries_total',
      'kafka_partitions_stalled',
      'kafka_consumer_records_in_flight',
      'kafka_consumer_records_waiting',
      'kafka_consumer_records_held',
      'kafka_consumer_partitions_paused',
      'kafka_handler_duration_seconds_bucket',
      'payment_to_email_seconds_bucket',
      'http_request_duration_seconds_bucket',
    ]) {
      expect(read).toContain(name);
    }
  });
});
