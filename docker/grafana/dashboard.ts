// The chain's Grafana dashboard, as code: `npm run dashboard` writes it to dashboards/black-friday-chain.json,
// which Grafana (docker-compose.yml) loads through provisioning/. Every query reads only series the services
// export; test/prometheus.e2e-spec.ts checks that against the running chain's /metrics.
import { join } from 'node:path';
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import { VizLegendOptionsBuilder, LegendDisplayMode, LegendPlacement, ReduceDataOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeSeriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

/** The data source provisioning/datasources/prometheus.yml creates. */
export const DATASOURCE = { type: 'prometheus', uid: 'prometheus' };

/** Grafana's rate window: at least four scrapes, whatever the zoom. */
const RATE = '$__rate_interval';

function query(expr: string, legend: string): Builder<Dataquery> {
  return new DataqueryBuilder().datasource(DATASOURCE).expr(expr).legendFormat(legend);
}

function graph(title: string, unit: string, description: string, ...queries: Builder<Dataquery>[]): TimeSeriesPanel {
  const panel = new TimeSeriesPanel()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .min(0)
    .span(12)
    .height(8)
    .legend(new VizLegendOptionsBuilder().displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).showLegend(true));
  for (const q of queries) panel.withTarget(q);
  return panel;
}

function stat(title: string, unit: string, description: string, expr: string): StatPanel {
  return new StatPanel()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .span(6)
    .height(4)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .withTarget(query(expr, title));
}

/** The latency percentiles of a histogram, one line each, per `by` label when there is one. */
function percentiles(histogram: string, by: string[], legend: string): Builder<Dataquery>[] {
  const labels = [...by, 'le'].join(', ');
  return [0.5, 0.95, 0.99].map((q) =>
    query(`histogram_quantile(${q}, sum by (${labels}) (rate(${histogram}_bucket[${RATE}])))`, `p${q * 100}${legend ? ` ${legend}` : ''}`),
  );
}

export function chainDashboard(): Dashboard {
  return new DashboardBuilder('Black Friday chain')
    .uid('black-friday-chain')
    .tags(['black-friday', 'kafka'])
    .refresh('5s')
    .time({ from: 'now-15m', to: 'now' })
    .timezone('browser')
    .withRow(new RowBuilder('Sales'))
    .withPanel(stat('Payments accepted', 'short', 'Payments published and acknowledged in the time range.', `sum(increase(kafka_messages_sent_total{event_type="payment-successful"}[$__range]))`))
    .withPanel(stat('Revenue', 'short', 'Sum of the accepted payments in the time range.', `sum(increase(payment_amount_total[$__range]))`))
    .withPanel(stat('Dead letters', 'short', 'Records moved to a DLQ in the time range: each is a bad record to look at (`npm run dlq`).', `sum(increase(kafka_messages_dead_lettered_total[$__range])) or vector(0)`))
    .withPanel(stat('Services up', 'short', 'Targets that answered their last scrape, of all the chain runs.', `sum(up{job="black-friday-chain"})`))
    .withPanel(
      graph(
        'Payments, orders and emails per second',
        'reqps',
        'Events published per second, by topic: payment-successful by payment, order-created by order, email-sent by email.',
        query(`sum by (event_type) (rate(kafka_messages_sent_total[${RATE}]))`, '{{event_type}}'),
      ),
    )
    .withPanel(graph('Revenue per second', 'short', 'Accepted payments per second, in money.', query(`sum(rate(payment_amount_total[${RATE}]))`, 'revenue')))
    .withRow(new RowBuilder('Kafka'))
    .withPanel(
      graph(
        'Consumer lag per partition',
        'short',
        "Records not yet committed by each group, per partition. Every order instance reports its group's lag: one reading per partition.",
        query('max by (group, topic, partition) (kafka_consumer_group_lag)', '{{group}} {{topic}}[{{partition}}]'),
      ),
    )
    .withPanel(
      graph(
        'Dead letters, retries and stalled partitions',
        'short',
        'Records dead-lettered per second by reason; records retried per second after an outage; partitions held at a failing record now.',
        query(`sum by (topic, reason) (rate(kafka_messages_dead_lettered_total[${RATE}]))`, 'DLQ {{topic}} {{reason}}'),
        query(`sum by (topic) (rate(kafka_handler_retries_total[${RATE}]))`, 'retries {{topic}}'),
        query('sum by (topic) (kafka_partitions_stalled)', 'stalled {{topic}}'),
      ),
    )
    .withPanel(
      graph(
        'Consume engine',
        'short',
        'Records each service runs now and those waiting for their key or a free place; records taken and not yet committed (the longest span of a partition); partitions paused by back-pressure.',
        query('sum by (service) (kafka_consumer_records_in_flight)', 'in flight {{service}}'),
        query('sum by (service) (kafka_consumer_records_waiting)', 'waiting {{service}}'),
        query('max by (service) (kafka_consumer_records_held)', 'held, longest partition {{service}}'),
        query('sum by (service) (kafka_consumer_partitions_paused)', 'paused {{service}}'),
      ),
    )
    .withPanel(
      graph(
        'Events handled per second',
        'reqps',
        'Records handled by the consumers, by topic and outcome.',
        query(`sum by (service, topic, outcome) (rate(kafka_messages_consumed_total[${RATE}]))`, '{{service}} {{topic}} {{outcome}}'),
      ),
    )
    .withPanel(
      graph(
        'Transactions, rebalances and crashes',
        'short',
        'Transactions of the consume loop per second by outcome; rebalances and consumer crashes in each interval.',
        query(`sum by (topic, outcome) (rate(kafka_transactions_total[${RATE}]))`, 'transactions {{topic}} {{outcome}}'),
        query(`sum by (service) (increase(kafka_consumer_rebalances_total[${RATE}]))`, 'rebalances {{service}}'),
        query(`sum by (service) (increase(kafka_consumer_crashes_total[${RATE}]))`, 'crashes {{service}}'),
      ),
    )
    .withRow(new RowBuilder('Latency'))
    .withPanel(
      graph(
        'Payment accepted to email sent',
        's',
        "From a payment's record written to its confirmation sent, measured by the email service.",
        ...percentiles('payment_to_email_seconds', [], ''),
      ),
    )
    .withPanel(graph('Handler duration', 's', 'Time to handle one consumed event, by topic.', ...percentiles('kafka_handler_duration_seconds', ['topic'], '{{topic}}')))
    .withPanel(
      graph(
        'HTTP p99 by route',
        's',
        '99th percentile of the time from request to answer, by service and route.',
        query(`histogram_quantile(0.99, sum by (service, route, le) (rate(http_request_duration_seconds_bucket[${RATE}])))`, '{{service}} {{route}}'),
      ),
    )
    .withPanel(
      graph(
        'HTTP answers per second',
        'reqps',
        'Requests answered per second, by service, route and status.',
        query(`sum by (service, route, status) (rate(http_requests_total[${RATE}]))`, '{{service}} {{route}} {{status}}'),
      ),
    )
    .build();
}

/** Every PromQL expression of a dashboard, with Grafana's own variables as Prometheus takes them. */
export function dashboardQueries(dashboard: Dashboard): string[] {
  return (dashboard.panels ?? [])
    .flatMap((panel) => ('targets' in panel ? (panel.targets ?? []) : []))
    .map((target) => (target as { expr?: string }).expr)
    .filter((expr): expr is string => typeof expr === 'string');
}

/** Where Grafana's provisioning (provisioning/dashboards/chain.yml) finds the dashboard. */
export const DASHBOARD_FILE = join(__dirname, 'dashboards', 'black-friday-chain.json');

/** The dashboard as the committed file holds it. */
export function dashboardJson(): string {
  return `${JSON.stringify(chainDashboard(), null, 2)}\n`;
}
