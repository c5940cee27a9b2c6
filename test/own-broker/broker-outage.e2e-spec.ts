import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPICS } from '@app/contracts';
import request from 'supertest';
import { queryDatabase, recreateDatabase } from '../../scripts/lib/postgres';
import { localBrokerPid, SHORT_LIVED_BROKER_JVM_OPTIONS } from '../../scripts/lib/kafka-local';
import { REPO_ROOT, ServiceProcess, startServices, stopServices, type ServiceSpec } from '../../scripts/lib/services';
import { waitFor } from '../../scripts/lib/wait';
import { TEST_PORT_OFFSET, testDatabaseUrl, testServiceEnv } from '../support/environment';
import { burstUnderWay, expectExactlyOnce, settleAndCount } from '../support/exactly-once';
import { readTopics } from '../support/topic-reader';
import { kafkaCliOk } from '../support/kafka-cli';

/** A broker of this suite's own, so stopping it disturbs nothing else; driven by the same CLI users have. */
const OUTAGE_BROKER = '127.0.0.1:19192';
const OUTAGE_STATE_DIR = '.kafka-outage';
const brokerEnv = { ...process.env, KAFKA_BROKERS: OUTAGE_BROKER, KAFKA_STATE_DIR: OUTAGE_STATE_DIR, KAFKA_JVM_PERFORMANCE_OPTS: SHORT_LIVED_BROKER_JVM_OPTIONS };
/** A database of the suite's own too: it runs beside the suites on the main chain, which recreate theirs. */
const OUTAGE_DATABASE = testDatabaseUrl().replace(/_test$/, '_test_outage');
const outageEnv = { KAFKA_BROKERS: OUTAGE_BROKER, DATABASE_URL: OUTAGE_DATABASE };

const kafkaCli = (...args: string[]) => kafkaCliOk(brokerEnv, ...args);

async function paymentIdsOnTopic(): Promise<string[]> {
  const ids: string[] = [];
  await readTopics([TOPICS.paymentSuccessful], (_, message) => void ids.push(JSON.parse(String(message.value)).payment_id), [OUTAGE_BROKER]);
  return ids;
}

beforeAll(async () => {
  kafkaCli('down', '--purge');
  kafkaCli('up');
  await recreateDatabase(OUTAGE_DATABASE);
});

afterAll(() => {
  kafkaCli('down', '--purge');
});

describe("the suite's broker, started by the CLI", () => {
  it("runs its broker with the JVM options KAFKA_JVM_PERFORMANCE_OPTS names, instead of kafka-run-class.sh's", () => {
    const pid = localBrokerPid(join(REPO_ROOT, OUTAGE_STATE_DIR));
    expect(pid).toBeDefined();
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(args).toContain('kafka.Kafka');
    for (const option of SHORT_LIVED_BROKER_JVM_OPTIONS.split(' ')) expect(args).toContain(option);
    expect(args).not.toContain('-XX:InitiatingHeapOccupancyPercent=35');
  });
});

describe('POST /payment while the broker is down', () => {
  let payment: ServiceProcess;
  const body = { user_id: 42, cart: [{ name: 'MacBook', price: 1999, quantity: 1 }] };

  beforeAll(async () => {
    payment = ServiceProcess.start(
      { service: 'payment', label: 'payment-outage', port: 8040 + TEST_PORT_OFFSET, env: outageEnv },
      testServiceEnv(),
    );
    await payment.waitHealthy();
  });

  afterAll(async () => {
    await payment?.stop();
  });

  it('answers 503 and publishes nothing, then accepts payments again once the broker is back', async () => {
    const before = await request(payment.url).post('/payment').send(body).expect(200);

    kafkaCli('down');
    const refused = await request(payment.url).post('/payment').send(body).expect(503);
    expect(refused.body).toMatchObject({ statusCode: 503, message: expect.stringMatching(/not accepted.*broker/i) });
    expect(refused.body.payment_id).toBeUndefined();
    await request(payment.url).get('/health').expect(503);
    await request(payment.url).get('/health/ready').expect(503);
    // Alive all the same: a supervisor watching liveness has nothing to restart.
    await request(payment.url).get('/health/live').expect(200);

    kafkaCli('up');
    const after = await request(payment.url).post('/payment').send(body).expect(200);
    // Exactly the two acknowledged payments are on the topic: the refused one was not left behind to go out later.
    expect((await paymentIdsOnTopic()).sort()).toEqual([before.body.payment_id, after.body.payment_id].sort());
  });

  it('publishes a keyed payment refused with 503 when it is retried, with the payment id its key was given, and then no more', async () => {
    const key = `outage-${randomUUID()}`;
    const keyed = { user_id: 43, cart: [{ name: 'iMac', price: 1499, quantity: 1 }] };
    const send = () => request(payment.url).post('/payment').set('Idempotency-Key', key).send(keyed);

    kafkaCli('down');
    await send().expect(503);
    const [held] = await queryDatabase<{ payment_id: string; published_at: Date | null }>(
      OUTAGE_DATABASE,
      'SELECT payment_id, published_at FROM payment.idempotency_keys WHERE key = $1',
      [key],
    );
    expect(held).toEqual({ payment_id: expect.any(String), published_at: null });

    kafkaCli('up');
    expect((await send().expect(200)).body.payment_id).toBe(held.payment_id);
    // The broker acknowledged it this time: one more retry is answered the same, and publishes nothing.
    expect((await send().expect(200)).body.payment_id).toBe(held.payment_id);
    expect((await paymentIdsOnTopic()).filter((id) => id === held.payment_id)).toEqual([held.payment_id]);
  });
});

/**
 * A chain of its own (order, email, analytics) on the suite's broker and a database of its own: the broker is
 * stopped for 10 s in the middle of a burst and started again. Nobody restarts the services.
 */
describe('the chain while its broker stops for 10 s in the middle of a burst', () => {
  const chain = { brokers: [OUTAGE_BROKER], databaseUrl: OUTAGE_DATABASE };
  const env = outageEnv;
  const specs: ServiceSpec[] = [
    { service: 'order', label: 'order-outage', port: 8051 + TEST_PORT_OFFSET, env: { ...env, INSTANCE_ID: 'outage' } },
    { service: 'email', label: 'email-outage', port: 8052 + TEST_PORT_OFFSET, env },
    { service: 'analytics', label: 'analytics-outage', port: 8053 + TEST_PORT_OFFSET, env },
  ];
  let services: ServiceProcess[] = [];
  /** Waits until the service says on /health/ready that the broker is away. */
  const reportsNotReady = (service: ServiceProcess) =>
    waitFor(async () => (await fetch(`${service.url}/health/ready`, { signal: AbortSignal.timeout(2000) })).status === 503, {
      timeoutMs: 9000,
      what: `${service.spec.label} to report itself not ready`,
    });

  afterAll(async () => {
    await stopServices(services);
  });

  it('comes back by itself, and every payment still becomes exactly one order and one email', async () => {
    const logs = process.env.E2E_LOGS === '1' ? (label: string, line: string) => console.log(`[${label}] ${line}`) : undefined;
    services = await startServices(specs, testServiceEnv(), logs);
    const pids = services.map((s) => s.child.pid);
    const payments = 6000;
    const run = `outage-${randomUUID().slice(0, 8)}`;
    const before = await burstUnderWay(chain, run, payments);
    expect(before).toBeLessThan(payments);

    kafkaCli('down');
    const downSince = Date.now();
    // While it is away each service says so on /health/ready, and stays live: an outage is waited out, so a
    // supervisor watching liveness restarts nothing.
    for (const service of services) {
      await reportsNotReady(service);
      expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
    }
    // The fault itself: the broker stays away 10 s in all while the services keep trying.
    await sleep(Math.max(0, 10_000 - (Date.now() - downSince)));
    kafkaCli('up');

    const counts = await settleAndCount(chain, run, payments);
    expectExactlyOnce(counts, payments);
    // Nobody restarted them: the same processes, each healthy again.
    expect(services.map((s) => s.running)).toEqual(specs.map(() => true));
    expect(services.map((s) => s.child.pid)).toEqual(pids);
    for (const service of services) await service.waitHealthy();
  });

  it('stops by itself, cleanly, when told to while the broker is away in the middle of a burst', async () => {
    if (services.length !== specs.length || services.some((s) => !s.running)) {
      await stopServices(services);
      services = await startServices(specs, testServiceEnv());
    }
    const payments = 3000;
    const before = await burstUnderWay(chain, `stop-${randomUUID().slice(0, 8)}`, payments);
    expect(before).toBeLessThan(payments);
    kafkaCli('down');
    for (const service of services) await reportsNotReady(service);
    // A deploy during an outage: each service leaves without the broker, its work left to the next owner. A
    // service still waiting on the broker after a minute is killed, which the exit below would show.
    await Promise.all(services.map((service) => service.stop('SIGTERM', 60_000)));
    expect(services.map((s) => [s.spec.label, s.exitSignal, s.exitCode])).toEqual(specs.map((s) => [s.label, null, 0]));
    kafkaCli('up');
  }, 240_000);
});
