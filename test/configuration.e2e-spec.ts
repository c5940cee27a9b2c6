import request from 'supertest';
import { ServiceProcess } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { TEST_PORT_OFFSET, testServiceEnv } from './support/environment';
import { freshUserId } from './support/http';

async function exitOf(service: ServiceProcess): Promise<{ code: number | null; output: string }> {
  await waitFor(() => !service.running, { timeoutMs: 30_000, what: `${service.spec.label} to exit` });
  return { code: service.exitCode, output: service.messages().join('\n') };
}

describe('a service started with bad configuration', () => {
  it('stops at once with a message naming each bad variable', async () => {
    const service = ServiceProcess.start(
      { service: 'payment', label: 'payment-misconfigured', port: 8020 + TEST_PORT_OFFSET, env: { PORT: 'eighty', KAFKA_BROKERS: 'nowhere' } },
      testServiceEnv(),
    );
    const { code, output } = await exitOf(service);
    expect(code).toBe(1);
    expect(output).toMatch(/Invalid configuration/);
    expect(output).toMatch(/PORT .*"eighty"/);
    expect(output).toMatch(/KAFKA_BROKERS .*"nowhere"/);
  });

  it('stops with how to start PostgreSQL when none answers', async () => {
    const service = ServiceProcess.start(
      { service: 'order', label: 'order-no-database', port: 8021 + TEST_PORT_OFFSET, env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/blackfriday' } },
      testServiceEnv(),
    );
    const { code, output } = await exitOf(service);
    expect(code).toBe(1);
    expect(output).toMatch(/PostgreSQL does not answer at postgres:\/\/postgres@127\.0\.0\.1:1\/blackfriday/);
    expect(output).toMatch(/docker compose -f docker\/docker-compose.yml up -d postgres/);
  });
});

describe('LOG_LEVEL', () => {
  it('keeps the lines under its level out: at warn, a refused payment (a 4xx, logged at warn) shows, the start and an accepted payment (info) do not', async () => {
    const quiet = ServiceProcess.start({ service: 'payment', label: 'payment-warn', port: 8025 + TEST_PORT_OFFSET, env: { LOG_LEVEL: 'warn' } }, testServiceEnv());
    try {
      await quiet.waitHealthy();
      await request(quiet.url).post('/payment').send({ user_id: freshUserId(), cart: [{ name: 'iPad', price: 599 }] }).expect(200);
      await request(quiet.url).post('/payment').send({ user_id: 0, cart: [] }).expect(400);
      const lines = await waitFor(() => {
        const parsed = quiet.logs().map((l) => JSON.parse(l) as { level: string; msg: string; res?: { status: number } });
        return parsed.some((l) => l.res?.status === 400) && parsed;
      }, { timeoutMs: 10_000, what: 'the refused payment logged' });
      expect(lines.find((l) => l.res?.status === 400)).toMatchObject({ level: 'warn', msg: 'request completed' });
      expect(lines.filter((l) => !['warn', 'error', 'fatal'].includes(l.level))).toEqual([]);
    } finally {
      await quiet.stop();
    }
  });
});
