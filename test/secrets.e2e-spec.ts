import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { TOPICS } from '@app/contracts';
import { dropDatabase } from '../scripts/lib/postgres';
import { ServiceProcess } from '../scripts/lib/services';
import { waitFor } from '../scripts/lib/wait';
import { allSettledOrThrow, startService, stopService } from './support/chain-control';
import { TEST_PORT_OFFSET, testChainSpecs, testDatabaseUrl, testServiceEnv } from './support/environment';
import { CHAIN_DEADLINE_MS, freshUserId, joinedGroup, ordersArriving, payment } from './support/http';
import { chainQuiet, connectedProducer } from './support/kafka';
import { orderCreatedEvent } from './support/events';

/** A password no log line could contain by chance. */
const PASSWORD = `s3cr3t-${randomUUID()}`;

/** The test database's URL with PASSWORD in it: trust authentication (the README's setup) accepts any password. */
function databaseUrlWith(password: string, change: (url: URL) => void = () => undefined): string {
  const url = new URL(testDatabaseUrl());
  url.password = password;
  change(url);
  return url.toString();
}

/** A local port nothing listens on: an SMTP server that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** How a service ended: its messages to read, and everything it printed (JSON lines whole) to search for a secret. */
async function exitOf(service: ServiceProcess): Promise<{ code: number | null; output: string; printed: string }> {
  await waitFor(() => !service.running, { timeoutMs: 30_000, what: `${service.spec.label} to exit` });
  return { code: service.exitCode, output: service.messages().join('\n'), printed: service.logs().join('\n') };
}

/**
 * Chain services stopped and replaced by one with other settings, on the same port and in the same group; each
 * test restores the chain's own afterwards.
 */
const replaced: Array<{ label: string; service: ServiceProcess }> = [];

async function replace(label: string, env: Record<string, string>): Promise<ServiceProcess> {
  const spec = testChainSpecs().find((s) => s.label === label);
  if (!spec) throw new Error(`no chain service ${label}`);
  await stopService(label);
  const service = ServiceProcess.start({ ...spec, label: `${label}-replaced`, env: { ...spec.env, ...env } }, testServiceEnv());
  replaced.push({ label, service });
  await service.waitHealthy();
  return service;
}

afterEach(async () => {
  await allSettledOrThrow(
    replaced.splice(0).map(async ({ label, service }) => {
      await service.stop();
      await startService(label);
    }),
  );
});

afterAll(async () => {
  // The records a replaced service left unhandled are the chain's again: wait until they are done.
  await chainQuiet();
});

describe('no password from DATABASE_URL or SMTP_URL is ever printed', () => {
  it('a configuration error names the bad URLs and the read token without the secrets in them', async () => {
    const service = ServiceProcess.start(
      {
        service: 'payment',
        label: 'payment-bad-secrets',
        port: 8022 + TEST_PORT_OFFSET,
        env: {
          DATABASE_URL: `mysql://shop:${PASSWORD}@127.0.0.1/blackfriday`,
          SMTP_URL: `http://mailer:${PASSWORD}@127.0.0.1:25`,
          READ_TOKEN: `${PASSWORD} with spaces`,
        },
      },
      testServiceEnv(),
    );
    const { code, output, printed } = await exitOf(service);
    expect(code).toBe(1);
    expect(output).toContain('DATABASE_URL must be a postgres:// URL (got "mysql://shop:***@127.0.0.1/blackfriday")');
    expect(output).toMatch(/SMTP_URL .*\(got "http:\/\/mailer:\*\*\*@127\.0\.0\.1:25\/?"\)/);
    expect(output).toMatch(/READ_TOKEN must be .* \(got \d+ characters\)/);
    expect(printed).not.toContain(PASSWORD);
  });

  it('a database that does not answer, or refuses the user, is named without the password', async () => {
    const noServer = ServiceProcess.start(
      { service: 'order', label: 'order-secret-port', port: 8023 + TEST_PORT_OFFSET, env: { DATABASE_URL: databaseUrlWith(PASSWORD, (url) => (url.port = '1')) } },
      testServiceEnv(),
    );
    const role = `nobody_${randomUUID().slice(0, 8)}`;
    const noRole = ServiceProcess.start(
      { service: 'analytics', label: 'analytics-secret-role', port: 8024 + TEST_PORT_OFFSET, env: { DATABASE_URL: databaseUrlWith(PASSWORD, (url) => (url.username = role)) } },
      testServiceEnv(),
    );
    const [refused, unknownRole] = await Promise.all([exitOf(noServer), exitOf(noRole)]);

    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`PostgreSQL does not answer at ${databaseUrlWith('***', (url) => (url.port = '1'))}`);
    expect(refused.printed).not.toContain(PASSWORD);
    expect(unknownRole.code).toBe(1);
    expect(unknownRole.output).toContain(`role "${role}" does not exist`);
    expect(unknownRole.printed).not.toContain(PASSWORD);
  });

  describe('a running email service whose SMTP server is down', () => {
    const database = databaseUrlWith(PASSWORD, (url) => (url.pathname = `${url.pathname}_secrets`));
    afterAll(() => dropDatabase(database));

    it('prints the database it created, the SMTP failure and /health without either password', async () => {
      const smtpUrl = `smtp://mailer:${PASSWORD}@127.0.0.1:${await closedPort()}`;
      const email = await replace('email', { DATABASE_URL: database, SMTP_URL: smtpUrl });
      await joinedGroup(email.url, 3);

      const userId = freshUserId();
      const order = orderCreatedEvent(userId, { name: 'Kindle', price: 99, paymentPrefix: 'secrets' });
      const producer = await connectedProducer();
      try {
        await producer.send({ topic: TOPICS.orderCreated, messages: [{ key: String(userId), value: JSON.stringify(order) }] });
      } finally {
        await producer.disconnect();
      }

      // The order's partition is held, retried, with the mail server's error as its reason.
      const health = await waitFor(
        async () => {
          const response = await request(email.url).get('/health');
          const stalled: Array<{ reason: string }> = response.body.details?.kafka?.stalled ?? [];
          return stalled.some((s) => /ECONNREFUSED/.test(s.reason)) ? response : undefined;
        },
        { timeoutMs: CHAIN_DEADLINE_MS, what: 'the email service to report its partition stalled on the SMTP outage' },
      );
      expect(health.body.details.database).toEqual({ status: 'up', schema: 'email' });
      expect(health.text).not.toContain(PASSWORD);

      const output = email.messages().join('\n');
      const printed = email.logs().join('\n');
      expect(printed.length).toBeGreaterThan(output.length);
      expect(output).toContain(`created database ${databaseUrlWith('***', (url) => (url.pathname = `${url.pathname}_secrets`))}`);
      expect(output).toMatch(/order-created\[\d+\]@\d+ failed, not by its own fault .*ECONNREFUSED/);
      expect(printed).not.toContain(PASSWORD);
    });
  });
});

describe('READ_TOKEN guards the read endpoints', () => {
  const TOKEN = `read-${randomUUID()}`;

  it('with the token set: no header or a wrong token gets 401 and a Bearer challenge, the right token 200', async () => {
    const userId = freshUserId();
    const cart = [{ name: 'Switch 2', price: 469, quantity: 1 }];
    expect((await payment().post('/payment').send({ user_id: userId, cart })).ok).toBe(true);
    const [order] = await ordersArriving(userId, `the order of user ${userId}`);

    // Replaced side by side: each is a different service, so none waits on another's start.
    const [orderService, emailService, analyticsService, paymentService] = await allSettledOrThrow(
      ['order-1', 'email', 'analytics', 'payment'].map((label) => replace(label, { READ_TOKEN: TOKEN })),
    );
    const services = { order: orderService, email: emailService, analytics: analyticsService, payment: paymentService };
    const reads = [
      { url: services.order.url, path: `/orders?user_id=${userId}` },
      { url: services.order.url, path: `/orders/${order.order_id}` },
      { url: services.email.url, path: `/emails?user_id=${userId}` },
      { url: services.analytics.url, path: '/analytics' },
    ];
    for (const { url, path } of reads) {
      const missing = await request(url).get(path).expect(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="black-friday"');
      expect(missing.text).not.toContain(String(userId));
      for (const header of [`Bearer wrong-${TOKEN}`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`]) {
        const wrong = await request(url).get(path).set('Authorization', header).expect(401);
        expect(wrong.headers['www-authenticate']).toMatch(/^Bearer realm="black-friday"/);
      }
      await request(url).get(path).set('Authorization', `Bearer ${TOKEN}`).expect(200);
    }
    expect((await request(services.order.url).get(`/orders/${order.order_id}`).set('Authorization', `Bearer ${TOKEN}`)).body.user_id).toBe(userId);

    // Health, metrics and payments stay open.
    for (const service of Object.values(services)) {
      await request(service.url).get('/health').expect(200);
      await request(service.url).get('/metrics').expect(200);
    }
    expect((await request(services.payment.url).post('/payment').send({ user_id: userId, cart })).ok).toBe(true);
  });

  it('unset, the read endpoints are open', async () => {
    const analytics = await replace('analytics', { READ_TOKEN: '' });
    const open = await request(analytics.url).get('/analytics').expect(200);
    expect(open.body).toHaveProperty('total_payments');
  });
});
