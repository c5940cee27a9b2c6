import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import request from 'supertest';
import { brokerAnswers } from '../../scripts/lib/kafka-local';
import { dropDatabase, recreateDatabase } from '../../scripts/lib/postgres';
import { REPO_ROOT } from '../../scripts/lib/services';
import { chainLogFile, traceLines } from '../../scripts/lib/trace';
import { waitFor } from '../../scripts/lib/wait';
import { testDatabaseUrl } from '../support/environment';
import { requireChainGroupsFree, withAdmin } from '../support/kafka';
import { kafkaCliOk } from '../support/kafka-cli';

/** `npm start` as a user runs it, beside everything else: its own broker, database and ports (--port-offset). */
const BROKER = '127.0.0.1:19292';
const OFFSET = 20_000;
const DATABASE = testDatabaseUrl().replace(/_test$/, '_test_start');
// Four partitions, not the default three: TOPIC_PARTITIONS reaches the topics npm start creates.
const env = { ...process.env, KAFKA_BROKERS: BROKER, KAFKA_STATE_DIR: '.kafka-start', DATABASE_URL: DATABASE, KAFKA_HEAP_OPTS: '-Xms256m -Xmx256m', TOPIC_PARTITIONS: '4' };
const url = (port: number) => `http://127.0.0.1:${port + OFFSET}`;

const kafkaCli = (...args: string[]) => kafkaCliOk(env, ...args);

/** npm start's process (scripts/start.ts, as `npm start -- …` runs it), its output piped as a user's `| tee` would. */
class NpmStart {
  readonly lines: string[] = [];
  readonly exit: Promise<[number | null, NodeJS.Signals | null]>;
  private constructor(readonly child: ChildProcess) {
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (line) => this.lines.push(line));
    this.exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  }

  static run(extraEnv: Record<string, string> = {}): NpmStart {
    // One process (node with tsx's loader), so that Ctrl+C (SIGINT) reaches npm start itself.
    return new NpmStart(spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', '--port-offset', String(OFFSET)], { cwd: REPO_ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
    return waitFor(() => this.lines.find((l) => pattern.test(l)) ?? (this.child.exitCode !== null ? Promise.reject(new Error(`npm start exited:\n${this.lines.slice(-30).join('\n')}`)) : false), {
      timeoutMs,
      intervalMs: 250,
      what: `npm start to print ${pattern}`,
    });
  }
}

beforeAll(async () => {
  kafkaCli('down', '--purge');
  await recreateDatabase(DATABASE);
});

afterAll(async () => {
  kafkaCli('down', '--purge');
  await dropDatabase(DATABASE);
});

describe('npm start', () => {
  it('stops at once without PostgreSQL, saying how to start one, and starts nothing', async () => {
    const start = NpmStart.run({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/blackfriday' });
    const [code] = await start.exit;
    expect(code).toBe(1);
    const output = start.lines.join('\n');
    expect(output).toContain('PostgreSQL does not answer at postgres://postgres@127.0.0.1:1/blackfriday');
    expect(output).toContain('docker compose -f docker/docker-compose.yml up -d postgres');
    expect(await brokerAnswers([BROKER], 1000)).toBe(false);
  });

  it('starts a broker, the topics and six services, says when the chain is healthy, carries a payment, and stops it all on Ctrl+C', async () => {
    const start = NpmStart.run();
    let stopped = false;
    try {
      const healthy = await start.waitForLine(/^\[start\] chain healthy in \d+\.\d s\. Try:$/, 240_000);
      expect(start.lines).toContain(`[start] Kafka at ${BROKER} (started)`);
      expect(start.lines.some((l) => /^\[start\] created topics .*payment-successful/.test(l))).toBe(true);
      // npm test built the services just before: nothing changed since, so npm start does not build again.
      expect(start.lines).toContain('payment, order, email, analytics built already: nothing they are built from changed since');
      const partitions = await withAdmin(async (admin) => (await admin.fetchTopicMetadata({ topics: ['payment-successful', 'order-created', 'email-sent'] })).topics.map((t) => [t.name, t.partitions.length]), [BROKER]);
      expect(Object.fromEntries(partitions)).toEqual({ 'payment-successful': 4, 'order-created': 4, 'email-sent': 4 });
      const index = start.lines.indexOf(healthy);
      expect(start.lines[index + 1]).toContain(`curl -X POST localhost:${8000 + OFFSET}/payment`);

      // Piped, the services' lines are their JSON, from the six of them.
      const services = new Set(start.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).map((l) => `${l.service}#${l.instance}`));
      expect([...services].sort()).toEqual(['analytics#1', 'email#1', 'order#1', 'order#2', 'order#3', 'payment#1']);

      // Healthy means ready: a payment sent at once goes through.
      const userId = 424242;
      const paid = await request(url(8000)).post('/payment').send({ user_id: userId, cart: [{ name: 'MacBook', price: 1999 }] }).expect(200);
      await waitFor(async () => (await request(url(8002)).get(`/emails?user_id=${userId}`).expect(200)).body.items.length === 1, {
        timeoutMs: 30_000,
        what: 'the confirmation email',
      });
      expect((await request(url(8001)).get(`/orders?user_id=${userId}`).expect(200)).body.total).toBe(1);
      // The end-to-end suites would not run on this broker now: the chain's groups have npm start's members.
      await expect(withAdmin((admin) => requireChainGroupsFree(admin, 2000), [BROKER])).rejects.toThrow(
        'the consumer groups of the chain already have members on this broker (is `npm start` running?)',
      );

      // And its lines are in npm start's log file, where npm run trace follows them.
      const traced = await waitFor(() => {
        const trace = traceLines(readFileSync(chainLogFile(OFFSET), 'utf8'), paid.body.payment_id);
        const services = new Set(trace.lines.map((l) => l.service));
        return ['payment', 'order', 'email', 'analytics'].every((s) => services.has(s)) && trace;
      }, { timeoutMs: 15_000, what: "the payment's lines from the four services in the log file" });
      expect(traced.lines.length).toBeGreaterThanOrEqual(5);

      start.child.kill('SIGINT');
      const [code] = await start.exit;
      stopped = true;
      expect(code).toBe(0);
      expect(start.lines).toContain('[start] stopping the chain…');
      // Everything it started is gone: the services' ports and the broker.
      for (const port of [8000, 8001, 8002, 8003, 8004, 8005]) await expect(fetch(`${url(port)}/health`)).rejects.toThrow();
      expect(await brokerAnswers([BROKER], 1000)).toBe(false);
    } finally {
      if (!stopped) {
        start.child.kill('SIGINT');
        await start.exit;
      }
    }
    // A broker's start, six services' and their groups settling: on a machine the other suites fill, minutes.
  }, 300_000);
});
