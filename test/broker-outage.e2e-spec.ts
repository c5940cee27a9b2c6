import { spawnSync } from 'node:child_process';
import { TOPICS } from '@app/contracts';
import request from 'supertest';
import { toolKafka } from '../scripts/lib/broker';
import { REPO_ROOT, ServiceProcess } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { TEST_PORT_OFFSET, testServiceEnv } from './support/environment';

/** A broker of this suite's own, so stopping it disturbs nothing else; driven by the same CLI users have. */
const OUTAGE_BROKER = '127.0.0.1:19192';
const brokerEnv = { ...process.env, KAFKA_BROKERS: OUTAGE_BROKER, KAFKA_STATE_DIR: '.kafka-outage' };

function kafkaCli(...args: string[]): void {
  const result = spawnSync('npx', ['tsx', 'scripts/kafka.ts', ...args], { cwd: REPO_ROOT, env: brokerEnv, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`kafka ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
}

async function paymentIdsOnTopic(): Promise<string[]> {
  const kafka = toolKafka('outage-check', [OUTAGE_BROKER]);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(TOPICS.paymentSuccessful);
    const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    if (total === 0) return [];
    const consumer = kafka.consumer({ groupId: `outage-check-${Date.now()}` });
    const ids: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: TOPICS.paymentSuccessful, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void ids.push(JSON.parse(String(message.value)).payment_id) });
      await waitFor(() => ids.length === total, { timeoutMs: 30_000, what: `the ${total} records of ${TOPICS.paymentSuccessful}` });
      return ids;
    } finally {
      await consumer.disconnect();
    }
  } finally {
    await admin.disconnect();
  }
}

describe('POST /payment while the broker is down', () => {
  let payment: ServiceProcess | undefined;
  const body = { user_id: 42, cart: [{ name: 'MacBook', price: 1999, quantity: 1 }] };

  beforeAll(() => {
    kafkaCli('down', '--purge');
    kafkaCli('up');
  });

  afterAll(async () => {
    await payment?.stop();
    kafkaCli('down', '--purge');
  });

  it('answers 503 and publishes nothing, then accepts payments again once the broker is back', async () => {
    payment = ServiceProcess.start(
      { service: 'payment', label: 'payment-outage', port: 8040 + TEST_PORT_OFFSET, env: { KAFKA_BROKERS: OUTAGE_BROKER } },
      testServiceEnv(),
    );
    await payment.waitHealthy();
    const before = await request(payment.url).post('/payment').send(body).expect(201);

    kafkaCli('down');
    const refused = await request(payment.url).post('/payment').send(body).expect(503);
    expect(refused.body).toMatchObject({ statusCode: 503, message: expect.stringMatching(/not accepted.*broker/i) });
    expect(refused.body.payment_id).toBeUndefined();
    await request(payment.url).get('/health').expect(503);

    kafkaCli('up');
    const after = await request(payment.url).post('/payment').send(body).expect(201);
    // Exactly the two acknowledged payments are on the topic: the refused one was not left behind to go out later.
    expect((await paymentIdsOnTopic()).sort()).toEqual([before.body.payment_id, after.body.payment_id].sort());
  });
});
