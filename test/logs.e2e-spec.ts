import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IHeaders } from 'kafkajs';
import { DLQ_TOPICS, TOPICS, type DeadLetterRecord } from '@app/contracts';
import { headerOf } from '@app/kafka';
import { REPO_ROOT, ServiceProcess } from '../scripts/lib/services';
import { traceLines, type LogLine } from '../scripts/lib/trace';
import { waitFor } from '../scripts/lib/wait';
import { serviceLogs } from './support/chain-control';
import { TEST_PORT_OFFSET, testChainSpecs, testServiceEnv } from './support/environment';
import { CHAIN_DEADLINE_MS, emailsOf, freshUserId, joinedGroup, payment } from './support/http';
import { connectedProducer } from './support/kafka';
import { readTopics } from './support/topic-reader';
import { scriptArgs } from './support/scripts';

/** Every test-chain service's recent lines, by label. */
async function chainLogs(): Promise<Map<string, string[]>> {
  const labels = testChainSpecs().map((s) => s.label);
  return new Map(await Promise.all(labels.map(async (label) => [label, await serviceLogs(label)] as const)));
}

describe('logs that follow a payment (correlation id from POST /payment to the email)', () => {
  it('returns the caller\'s X-Request-Id, or a new one when it gives none or a bad one', async () => {
    const cart = [{ name: 'AirPods', price: 249 }];
    const given = `shop-${randomUUID()}`;
    expect((await payment().post('/payment').set('X-Request-Id', given).send({ user_id: freshUserId(), cart }).expect(200)).headers['x-request-id']).toBe(given);
    const fresh = (await payment().post('/payment').send({ user_id: freshUserId(), cart }).expect(200)).headers['x-request-id'];
    expect(fresh).toMatch(/^[0-9a-f-]{36}$/);
    const replaced = (await payment().post('/payment').set('X-Request-Id', 'not an id, with spaces').send({ user_id: freshUserId(), cart }).expect(200)).headers['x-request-id'];
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
    // Even an answer refused before any route has one.
    expect((await payment().post('/payment').set('Content-Type', 'text/plain').send('x').expect(415)).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carries the id in Kafka headers through order and email (each record keyed by the user), onto every line of the way, which npm run trace follows', async () => {
    const requestId = `trace-${randomUUID()}`;
    const userId = freshUserId();
    const accepted = await payment().post('/payment').set('X-Request-Id', requestId).send({ user_id: userId, cart: [{ name: 'HomePod', price: 299 }] }).expect(200);
    const paymentId: string = accepted.body.payment_id;
    const [email] = await waitFor(async () => {
      const sent = await emailsOf(userId);
      return sent.length === 1 && sent;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the confirmation' });
    const orderId = String(email.order_id);

    // The records themselves, read from the topics (read_committed): each carries the id in x-request-id.
    // Keyed by the user, so that one customer's events keep their order on one partition.
    // The email row is written before email's transaction commits email-sent: read until all three are there.
    const found = await waitFor(async () => {
      const seen: Record<string, { request_id?: string; key?: string }> = {};
      await readTopics([TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent], (topic, message) => {
        const text = message.value?.toString() ?? '';
        if ((topic !== TOPICS.emailSent && text.includes(paymentId)) || (topic === TOPICS.emailSent && text.includes(orderId))) {
          seen[topic] = { request_id: headerOf(message.headers, 'x-request-id'), key: message.key?.toString() };
        }
      });
      return Object.keys(seen).length === 3 ? seen : undefined;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the payment, its order and its email on their topics' });
    const expected = { request_id: requestId, key: String(userId) };
    expect(found).toEqual({ [TOPICS.paymentSuccessful]: expected, [TOPICS.orderCreated]: expected, [TOPICS.emailSent]: expected });

    // The lines: analytics counts the email last, so wait for it.
    const trace = await waitFor(async () => {
      const text = [...(await chainLogs()).values()].flat().join('\n');
      const t = traceLines(text, requestId);
      return t.lines.some((l) => l.service === 'analytics' && l.msg.startsWith('counted email')) && t;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: "analytics' line for the email" });
    const where = (l: LogLine) => `${l.service} ${l.msg.replace(/[0-9a-f-]{36}/g, '<id>').replace(/\d+/g, 'N')}`;
    expect(trace.lines.map(where)).toEqual(expect.arrayContaining([
      'payment payment <id> accepted',
      'payment request completed',
      'order [Instance #N] [Partition N] [Offset N] User N',
      'email confirmation of order <id> sent',
      'analytics counted payment <id>',
      'analytics counted order <id>',
      'analytics counted email <id>',
    ]));
    // Each line of the payment's way carries the id (the email's lines by the record they handle).
    for (const line of trace.lines) expect({ line: line.msg, request_id: line.request_id }).toEqual({ line: line.msg, request_id: requestId });
    const order = trace.lines.find((l) => l.service === 'order')!;
    expect(order).toMatchObject({ payment_id: paymentId, topic: TOPICS.paymentSuccessful, partition: expect.any(Number), offset: expect.any(String) });

    // npm run trace, from the payment id, over the lines as npm start keeps them.
    const dir = mkdtempSync(join(tmpdir(), 'trace-'));
    try {
      const file = join(dir, 'chain.log');
      writeFileSync(file, [...(await chainLogs()).values()].flat().join('\n'));
      const run = spawnSync(...scriptArgs('trace', [paymentId, '--file', file]), { cwd: REPO_ROOT, encoding: 'utf8' });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      const printed = run.stdout.trim().split('\n');
      const [, count, services, ids] = /^(\d+) line\(s\) from (.+); ids followed: (.+)$/.exec(printed.at(-1) ?? '') ?? [];
      expect(Number(count)).toBe(printed.length - 1);
      expect(services.split(', ').map((s) => s.replace(/^order-\d$/, 'order')).sort()).toEqual(['analytics', 'email', 'order', 'payment']);
      expect(ids.split(', ').sort()).toEqual([requestId, paymentId, orderId, String(email.email_id)].sort());
      expect(printed.find((l) => / payment +info +payment .* accepted$/.test(l))).toBeDefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("puts a bad record's id into its dead letters and onto the lines that moved it", async () => {
    const requestId = `poison-${randomUUID()}`;
    const value = `not json ${randomUUID()}`;
    const producer = await connectedProducer();
    await producer.send({ topic: TOPICS.paymentSuccessful, acks: -1, messages: [{ key: 'logs', value, headers: { 'x-request-id': requestId } }] }).finally(() => producer.disconnect());
    // order and analytics each move it to dlq-payment.
    const letters = await waitFor(async () => {
      const seen: Array<{ letter: DeadLetterRecord; headers: IHeaders | undefined }> = [];
      await readTopics([DLQ_TOPICS[TOPICS.paymentSuccessful]], (_topic, message) => {
        const letter = JSON.parse(String(message.value)) as DeadLetterRecord;
        if (letter.original_message === value) seen.push({ letter, headers: message.headers });
      });
      return seen.length === 2 && seen;
    }, { timeoutMs: CHAIN_DEADLINE_MS, what: 'the two dead letters of the bad record' });
    for (const { letter, headers } of letters) {
      expect(headerOf(headers, 'x-request-id')).toBe(requestId);
      expect(letter.original_headers).toContainEqual({ key: 'x-request-id', value: requestId, encoding: 'utf8' });
    }
    const lines = [...(await chainLogs()).values()].flat().join('\n');
    const moved = traceLines(lines, requestId).lines.filter((l) => /moved to dlq-payment/.test(l.msg));
    expect(moved.map((l) => l.service).sort()).toEqual(['analytics', 'order']);
  });

  it("writes every line as JSON, kafkajs's own as lines of their own", async () => {
    const logs = await chainLogs();
    const all = [...logs.values()].flat();
    expect(all.length).toBeGreaterThan(100);
    expect(all.filter((l) => { try { return typeof JSON.parse(l).msg !== 'string'; } catch { return true; } })).toEqual([]);

    // A new member of the email group: kafkajs logs its joining, through the service's logger.
    const extra = ServiceProcess.start({ service: 'email', label: 'email-logs', port: 8031 + TEST_PORT_OFFSET }, testServiceEnv());
    try {
      await joinedGroup(extra.url);
      const kafkajs = extra.logs().map((l) => JSON.parse(l)).filter((l) => l.component === 'kafkajs');
      expect(kafkajs).toContainEqual(expect.objectContaining({ level: 'info', service: 'email', namespace: 'ConsumerGroup', msg: 'Consumer has joined the group', groupId: 'email-service-group' }));
      // Nest's own lines too, with their context.
      expect(extra.logs().map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ context: 'NestApplication', msg: 'Nest application successfully started' }));
    } finally {
      await extra.stop();
    }
  });
});
