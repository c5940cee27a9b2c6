/**
 * Breaks made on purpose to production code, each with the suites that must catch it (`npm run mutate`).
 * A mutant replaces one exact piece of text, found once in its file, and still type checks: what fails must
 * be a test, not the compiler.
 */
export interface Mutant {
  name: string;
  /** What a user or an operator would lose if the break shipped. */
  loss: string;
  file: string;
  find: string;
  replace: string;
  /** The suites that cover it, as `npm test -- <suites>` takes them. */
  suites: string[];
}

const FAILURE_POLICY = 'libs/kafka/src/consume/failure-policy.ts';
const SERVER = 'libs/kafka/src/monitored-kafka-server.ts';
const SERVER_SPEC = 'libs/kafka/src/monitored-kafka-server.spec.ts';
const ENGINE = 'libs/kafka/src/consume/consume-engine.ts';
const ENGINE_SPEC = 'libs/kafka/src/consume/consume-engine.spec.ts';
const COMMITS = 'libs/kafka/src/consume/commits.ts';

export const MUTANTS: Mutant[] = [
  // The seven of issue 24.
  {
    name: 'idempotency purge keeps the old keys',
    loss: 'a retried POST /payment after a purge charges the customer twice',
    file: 'apps/payment/src/idempotency-keys.ts',
    find: "'DELETE FROM payment.idempotency_keys WHERE created_at < clock_timestamp()",
    replace: "'DELETE FROM payment.idempotency_keys WHERE created_at > clock_timestamp()",
    suites: ['apps/payment/src/idempotency-keys.spec.ts', 'test/idempotency.e2e-spec.ts'],
  },
  {
    name: 'mark sent tried once',
    loss: 'one database blip after the mail server accepted a batch sends up to 500 emails again',
    file: 'apps/email/src/emails.repository.ts',
    find: 'const MARK_SENT_ATTEMPTS = 4;',
    replace: 'const MARK_SENT_ATTEMPTS = 1;',
    suites: ['apps/email/src/emails.repository.spec.ts', 'test/confirmation-email.e2e-spec.ts'],
  },
  {
    name: 'retries kept across a rebalance',
    loss: 'stalled partitions the member lost stay on /health and kafka_partitions_stalled',
    file: ENGINE,
    find: 'this.parts.retries.retain(assignment);',
    replace: 'void assignment;',
    suites: [SERVER_SPEC, 'test/failure-policy.e2e-spec.ts'],
  },
  {
    name: 'crashes not counted',
    loss: 'kafka_consumer_crashes_total never moves, so ConsumerCrashing never fires',
    file: SERVER,
    find: 'this.consume.telemetry?.crashed();',
    replace: 'void this.consume.telemetry;',
    suites: [SERVER_SPEC, 'test/observability.e2e-spec.ts'],
  },
  {
    name: "the course's mode handles records side by side",
    loss: "the course's experiment silently measures something else",
    file: 'libs/service/src/bootstrap.ts',
    find: 'order: env.CONSUMER_ORDER,',
    replace: "order: env.CONSUMER_ORDER === 'partition' ? 'key' : 'key',",
    suites: ['test/scaling.e2e-spec.ts'],
  },
  {
    name: 'orders per second left per bucket',
    loss: 'the live page shows ten times the rate',
    file: 'apps/analytics/src/analytics.repository.ts',
    find: 'rate: (counts.get(bucket) ?? 0) / bucketSeconds',
    replace: 'rate: (counts.get(bucket) ?? 0) / 1',
    suites: ['apps/analytics/src/analytics.repository.spec.ts', 'test/live-page.e2e-spec.ts'],
  },
  {
    name: 'DELIVERY=at-least-once ignored',
    loss: 'the documented switch, and the benchmark comparison built on it, are false',
    file: 'libs/service/src/bootstrap.ts',
    find: "const transactional = env.DELIVERY === 'exactly-once';",
    replace: "const transactional = env.DELIVERY !== undefined;",
    suites: ['test/delivery.e2e-spec.ts'],
  },
  // One per rule of the failure policy.
  {
    name: 'a bad record is retried',
    loss: 'a poison record holds its partition for RETRY_MAX_MS, then is replayed as if good',
    file: FAILURE_POLICY,
    find: "if (isRecordFault(error)) return { action: 'dead-letter', retriable: false };",
    replace: "if (isRecordFault(error) && error.reason === 'never') return { action: 'dead-letter', retriable: false };",
    suites: ['libs/kafka/src/consume/failure-policy.spec.ts', 'test/dead-letter.e2e-spec.ts'],
  },
  {
    name: 'an outage is retried without end',
    loss: 'one stuck record holds its partition forever',
    file: FAILURE_POLICY,
    find: 'now - failingSince >= this.retryMaxMs',
    replace: 'now - failingSince >= this.retryMaxMs * 1000',
    suites: ['libs/kafka/src/consume/failure-policy.spec.ts', 'test/failure-policy.e2e-spec.ts'],
  },
  {
    name: 'an outage is dead-lettered at once',
    loss: 'good payments are parked in the DLQ during a database blip',
    file: FAILURE_POLICY,
    find: "return { action: 'retry' };",
    replace: "return { action: 'dead-letter', retriable: true };",
    suites: ['libs/kafka/src/consume/failure-policy.spec.ts', 'test/failure-policy.e2e-spec.ts'],
  },
  {
    name: 'a reading failure is taken for an outage',
    loss: 'a deeply nested record stalls its partition for five minutes',
    file: 'libs/kafka/src/kafka-event.ts',
    find: 'if (isRecordFault(error)) throw error;',
    replace: 'if (isRecordFault(error) || error instanceof Error) throw error;',
    suites: ['libs/kafka/src/kafka-event.spec.ts', 'test/hostile-records.e2e-spec.ts'],
  },
  {
    name: 'the first retry waits a second',
    loss: 'a blip of the database holds every record behind it ten times longer than the README says',
    file: 'libs/kafka/src/kafka.module.ts',
    find: 'const RETRY_FIRST_MS = 100;',
    replace: 'const RETRY_FIRST_MS = 1000;',
    suites: ['libs/kafka/src/kafka.module.spec.ts'],
  },
  // One per commit path of the consume engine.
  {
    name: 'exactly once commits the offset without the events',
    loss: 'orders made but never announced: no email for them',
    file: COMMITS,
    find: 'await this.transactions.commit(state.topic, state.partition, staged, committable.next.toString());',
    replace: 'await this.transactions.commit(state.topic, state.partition, staged.slice(0, 0), committable.next.toString());',
    suites: ['test/chain.e2e-spec.ts', 'test/exactly-once.e2e-spec.ts'],
  },
  {
    name: 'at least once never commits',
    loss: 'every restart handles the whole topic again, and lag never falls',
    file: COMMITS,
    find: 'if (work.length === 0) return;',
    replace: 'if (work.length >= 0) return;',
    suites: ['test/delivery.e2e-spec.ts'],
  },
  // The consume engine's two promises: a key at a time, and no commit past a record not done.
  {
    name: 'records of one key run side by side',
    loss: "a customer's payments overtake each other",
    file: ENGINE,
    find: "if (this.settings.order === 'partition' || record.message.key == null) return partition;",
    replace: "if (this.settings.order === 'partition' || record.message.key == null) return `${partition}|${record.offset}`;",
    suites: [ENGINE_SPEC],
  },
  {
    name: 'the commit passes a record not done',
    loss: 'a crash loses the payment still running: no order, no email',
    file: 'libs/kafka/src/consume/partition-state.ts',
    find: 'while (i < this.records.length && this.records[i].done) i++;',
    replace: 'while (i < this.records.length) i++;',
    suites: [ENGINE_SPEC, 'test/key-order.e2e-spec.ts'],
  },
  {
    name: 'a new owner ignores the records committed ahead',
    loss: 'records that finished behind a slow one are announced twice after a takeover',
    file: ENGINE,
    find: 'const finished = decodeFinished(offset, metadata);',
    replace: 'const finished = decodeFinished(offset, metadata.slice(0, 0));',
    suites: [ENGINE_SPEC, 'test/key-order.e2e-spec.ts'],
  },
  {
    name: 'a dead letter keeps the events of its failed handler',
    loss: 'a record dead-lettered half-way still announces what it did before failing',
    file: 'libs/kafka/src/dead-letter.interceptor.ts',
    find: 'scope?.staged.splice(0);',
    replace: 'scope?.staged.slice(0);',
    suites: ['libs/kafka/src/dead-letter.interceptor.spec.ts'],
  },
];
