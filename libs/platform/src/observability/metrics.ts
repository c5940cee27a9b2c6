import { Global, Module } from '@nestjs/common';
import { makeCounterProvider, makeHistogramProvider, PrometheusModule } from '@willsoto/nestjs-prometheus';

/** Latency buckets in seconds, from a millisecond to ten seconds. */
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Metric names, shared by the code that records them and the tests and dashboards that read them. */
export const METRICS = {
  /** Named as the course's monitoring counts it. */
  messagesSent: 'kafka_messages_sent_total',
  messagesConsumed: 'kafka_messages_consumed_total',
  deadLettered: 'kafka_messages_dead_lettered_total',
  handlerSeconds: 'kafka_handler_duration_seconds',
  consumerLag: 'kafka_consumer_group_lag',
  retries: 'kafka_handler_retries_total',
  stalledPartitions: 'kafka_partitions_stalled',
  recordsInFlight: 'kafka_consumer_records_in_flight',
  recordsWaiting: 'kafka_consumer_records_waiting',
  recordsHeld: 'kafka_consumer_records_held',
  partitionsPaused: 'kafka_consumer_partitions_paused',
  transactions: 'kafka_transactions_total',
  rebalances: 'kafka_consumer_rebalances_total',
  crashes: 'kafka_consumer_crashes_total',
  httpRequests: 'http_requests_total',
  httpSeconds: 'http_request_duration_seconds',
  paymentToEmail: 'payment_to_email_seconds',
  paymentAmount: 'payment_amount_total',
} as const;

/** Header of `order-created`: when the payment it came of was accepted (its record's timestamp, epoch ms). */
export const PAYMENT_ACCEPTED_AT_HEADER = 'payment-accepted-at';

const metricProviders = [
  makeCounterProvider({
    name: METRICS.messagesSent,
    help: 'Events published and acknowledged by the broker, by event type (topic).',
    labelNames: ['event_type'],
  }),
  makeCounterProvider({
    name: METRICS.messagesConsumed,
    help: 'Events handled by this service, by topic and outcome (processed, dead_lettered).',
    labelNames: ['topic', 'outcome'],
  }),
  makeCounterProvider({
    name: METRICS.deadLettered,
    help: 'Records moved to a dead-letter topic, by source topic, whether a replay may take them (retriable), and reason (undecodable, contract, unreadable, data_rejected, event_refused, recipient_refused, retries_exhausted).',
    labelNames: ['topic', 'retriable', 'reason'],
  }),
  makeCounterProvider({
    name: METRICS.retries,
    help: 'Records whose handler failed for a reason that is not their own (an outage, a bug) and will be tried again, by topic.',
    labelNames: ['topic'],
  }),
  makeHistogramProvider({
    name: METRICS.handlerSeconds,
    help: 'Time spent handling one consumed event, by topic.',
    labelNames: ['topic'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  }),
  makeCounterProvider({
    name: METRICS.transactions,
    help: 'Kafka transactions of the consume engine (events and offsets of the finished records of one partition), by input topic and outcome (committed, aborted).',
    labelNames: ['topic', 'outcome'],
  }),
  makeCounterProvider({
    name: METRICS.rebalances,
    help: "Rebalances of the consumer's group that this member took part in.",
  }),
  makeCounterProvider({
    name: METRICS.crashes,
    help: 'Consumer crashes (kafkajs restarts the consumer, or the service does when kafkajs gives up on it).',
  }),
  makeCounterProvider({
    name: METRICS.httpRequests,
    help: 'HTTP requests answered, by method, route (the route template, or "unmatched") and status code.',
    labelNames: ['method', 'route', 'status'],
  }),
  makeHistogramProvider({
    name: METRICS.paymentToEmail,
    help: 'From a payment accepted (its payment-successful record written) to its confirmation email sent, measured by the email service.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
  makeHistogramProvider({
    name: METRICS.httpSeconds,
    help: 'Time from receiving an HTTP request to finishing its answer, by method, route and status code.',
    labelNames: ['method', 'route', 'status'],
    buckets: SECONDS_BUCKETS,
  }),
];

/** `GET /metrics` (Prometheus text format) with process defaults and the chain's own metrics. */
@Global()
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } })],
  providers: metricProviders,
  exports: metricProviders,
})
export class MetricsModule {}
