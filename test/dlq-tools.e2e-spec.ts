import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { CONSUMER_GROUPS, DLQ_TOPICS, TOPICS } from '@app/contracts';
import type { KafkaMessage, Producer } from 'kafkajs';
import { REPO_ROOT, ServiceProcess } from '../scripts/lib/services';
import { scanRanges } from '../scripts/lib/topic-scan';
import { waitFor } from '../scripts/lib/wait';
import { startServices, stopServices } from './support/chain-control';
import { queryTestDatabase } from './support/database';
import { DeadLetterReader } from './support/dead-letters';
import { paymentEvent } from './support/events';
import { testChainSpecs, testServiceEnv } from './support/environment';
import { freshUserId, joinedGroup, ordersArriving, ordersOf } from './support/http';
import { chainQuiet, connectedProducer, endOffsetSum, testKafka } from './support/kafka';
import { scriptArgs } from './support/scripts';

const PAYMENTS_DLQ = DLQ_TOPICS[TOPICS.paymentSuccessful];
const ORDER_LABELS = testChainSpecs().filter((s) => s.service === 'order').map((s) => s.label);
/** The outage the order service waits out before it parks a record as retriable, in the instance of this suite. */
const SHORT_RETRY_MAX_MS = 2000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run dlq -- <args>` as a user would, against the test broker. */
async function dlq(...args: string[]): Promise<Run> {
  const child = spawn(...scriptArgs('dlq', args), { cwd: REPO_ROOT, env: testServiceEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function jsonLines<T>(run: Run): T[] {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return run.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);
}

const payment = (userId: number, paymentId: string, amount = 10) => paymentEvent(userId, paymentId, { name: 'Lego Millennium Falcon', amount });

/** The one record at `offset` of a partition, read back from the broker. */
async function recordAt(topic: string, partition: number, offset: string): Promise<KafkaMessage> {
  const found: KafkaMessage[] = [];
  await scanRanges(testKafka(), [{ topic, partition, from: BigInt(offset), to: BigInt(offset) + 1n }], (_t, _p, message) => void found.push(message));
  expect(found).toHaveLength(1);
  return found[0];
}

let producer: Producer;
let letters: DeadLetterReader;

beforeAll(async () => {
  producer = await connectedProducer();
  letters = await DeadLetterReader.start(PAYMENTS_DLQ);
});

afterAll(async () => {
  await letters.stop();
  await producer.disconnect();
});

interface Group {
  source_topic: string;
  group: string;
  reason: string;
  retriable: boolean;
  count: number;
  replayed: number;
}

describe('npm run dlq', () => {
  it('groups the letters by source topic, group and reason, with counts', async () => {
    const since = new Date().toISOString();
    const run = randomUUID();
    const userId = freshUserId();
    // Three records of one bug (not JSON, each its own text) and two of another (an amount that is not the cart's).
    await producer.send({
      topic: TOPICS.paymentSuccessful,
      messages: [
        ...[1, 2, 3].map((n) => ({ key: String(userId), value: `not json ${run} #${n * 1234}` })),
        ...[1, 2].map((n) => ({ key: String(userId), value: JSON.stringify(payment(userId, `mismatch-${n}-${run}`, n)) })),
      ],
    });
    // Order and analytics each dead-letter all five.
    await letters.waitFor((l) => l.original_message?.includes(run) === true, 10, 'the five records dead-lettered by order and analytics');

    const groups = jsonLines<Group>(await dlq('--topic', PAYMENTS_DLQ, '--since', since, '--json'));
    // Each bug is one reason whatever the record held: its text, its numbers.
    const notJson = groups.find((g) => /not valid JSON/.test(g.reason))?.reason;
    const mismatch = groups.find((g) => /amount/.test(g.reason))?.reason;
    expect(notJson).toContain(`Unexpected token '…', "…" is not valid JSON`);
    expect(mismatch).toMatch(/amount # does not match the cart total #/);
    expect(groups.map((g) => [g.source_topic, g.group, g.reason, g.retriable, g.count]).sort()).toEqual(
      [
        [TOPICS.paymentSuccessful, CONSUMER_GROUPS.analytics, mismatch, false, 2],
        [TOPICS.paymentSuccessful, CONSUMER_GROUPS.analytics, notJson, false, 3],
        [TOPICS.paymentSuccessful, CONSUMER_GROUPS.order, mismatch, false, 2],
        [TOPICS.paymentSuccessful, CONSUMER_GROUPS.order, notJson, false, 3],
      ].sort(),
    );

    const text = await dlq('--topic', PAYMENTS_DLQ, '--since', since);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`10 dead letter(s) in ${PAYMENTS_DLQ} since ${since}, in 4 group(s):`);
    expect(text.stdout).toContain(`${TOPICS.paymentSuccessful} → ${PAYMENTS_DLQ}, ${CONSUMER_GROUPS.order}\n`);
    expect(text.stdout).toContain(`      3  bad record  ${notJson}\n`);

    // The letters themselves, and what a replay of one reason would send: each record once, not once per group.
    const shown = jsonLines<{ original_message: string; reason: string }>(await dlq('show', '--topic', PAYMENTS_DLQ, '--since', since, '--reason', 'not valid JSON', '--json'));
    expect(shown.map((l) => l.original_message).sort()).toEqual([1, 1, 2, 2, 3, 3].map((n) => `not json ${run} #${n * 1234}`));
    const dryRun = await dlq('replay', '--topic', PAYMENTS_DLQ, '--since', since, '--reason', 'not valid JSON', '--dry-run');
    expect(dryRun.stdout).toContain('3 record(s) would be sent, 0 letter(s) already replayed, 0 refused');
  });
});

describe('npm run dlq -- replay', () => {
  let outageInstance: ServiceProcess | undefined;

  afterAll(async () => {
    // Whatever happened, leave the chain as the other suites expect it.
    await queryTestDatabase('ALTER TABLE IF EXISTS orders.orders_away RENAME TO orders');
    await outageInstance?.stop();
    await startServices(ORDER_LABELS);
  });

  it('sends a payment parked as retriable during an outage back once: it becomes its order, and a second replay sends nothing', async () => {
    const since = new Date().toISOString();
    const userId = freshUserId();
    const sent = payment(userId, `replayed-${randomUUID()}`);
    const headers = { trace: Buffer.from([0xfe, 0x00, 0x01]), origin: 'black-friday' };

    // One order instance that parks a record after SHORT_RETRY_MAX_MS, alone in its group, and an outage longer than that.
    await stopServices(ORDER_LABELS);
    const spec = testChainSpecs().find((s) => s.label === ORDER_LABELS[0])!;
    outageInstance = ServiceProcess.start(
      { ...spec, label: 'order-outage', env: { INSTANCE_ID: 'outage', RETRY_MAX_MS: String(SHORT_RETRY_MAX_MS) } },
      testServiceEnv(),
    );
    await outageInstance.waitHealthy();
    await joinedGroup(outageInstance.url, 3);
    await queryTestDatabase('ALTER TABLE orders.orders RENAME TO orders_away');
    await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ key: String(userId), value: JSON.stringify(sent), headers }] });
    const [letter] = await letters.waitFor(
      (l) => l.original_message === JSON.stringify(sent) && l.group === CONSUMER_GROUPS.order,
      1,
      'the payment parked as retriable',
    );
    expect(letter).toMatchObject({ retriable: true, truncated: false });
    expect(letter.error).toMatch(/relation "orders\.orders" does not exist/);
    await queryTestDatabase('ALTER TABLE orders.orders_away RENAME TO orders');
    await outageInstance.stop();
    await startServices(ORDER_LABELS);
    await chainQuiet();
    expect(await ordersOf(userId)).toEqual([]);

    // The letter, as `show` lists it.
    const shown = jsonLines<{ dlq_offset: string; original_message: string; retriable: boolean; replayed: unknown }>(
      await dlq('show', '--topic', PAYMENTS_DLQ, '--since', since, '--retriable', '--json'),
    );
    const mine = shown.filter((l) => l.original_message === JSON.stringify(sent));
    expect(mine).toEqual([expect.objectContaining({ retriable: true, replayed: null })]);
    const offset = mine[0].dlq_offset;

    const endBefore = await endOffsetSum(TOPICS.paymentSuccessful);
    const dryRun = await dlq('replay', '--topic', PAYMENTS_DLQ, '--offset', offset, '--dry-run');
    expect(dryRun.stdout).toContain(`would replay ${PAYMENTS_DLQ}@${offset} to ${TOPICS.paymentSuccessful}[${letter.partition}] (key "${userId}"`);
    expect(dryRun.stdout).toContain('1 record(s) would be sent, 0 letter(s) already replayed, 0 refused');
    expect(await endOffsetSum(TOPICS.paymentSuccessful)).toBe(endBefore);

    const first = await dlq('replay', '--topic', PAYMENTS_DLQ, '--offset', offset);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(first.stdout).toContain('1 record(s) sent, 0 letter(s) already replayed, 0 refused');
    const [, partition, replayedAt] = new RegExp(`replayed ${PAYMENTS_DLQ}@${offset} → ${TOPICS.paymentSuccessful}\\[(\\d+)\\]@(\\d+)`).exec(first.stdout) ?? [];
    expect(Number(partition)).toBe(letter.partition);

    // The record sent back is the original, byte for byte: key, value and headers.
    const record = await recordAt(TOPICS.paymentSuccessful, Number(partition), replayedAt);
    expect(record.key).toEqual(Buffer.from(String(userId)));
    expect(record.value).toEqual(Buffer.from(JSON.stringify(sent)));
    expect(record.headers).toEqual({ trace: headers.trace, origin: Buffer.from(headers.origin) });

    const [order] = await ordersArriving(userId, 'the order of the replayed payment');
    expect(order.payment_id).toBe(sent.payment_id);

    // Again, by offset and as "all retriable": the letter is known as replayed, and nothing is written.
    const endAfterFirst = await endOffsetSum(TOPICS.paymentSuccessful);
    const again = await dlq('replay', '--topic', PAYMENTS_DLQ, '--offset', offset);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already replayed ${PAYMENTS_DLQ}@${offset} at `);
    expect(again.stdout).toContain(`→ ${TOPICS.paymentSuccessful}[${partition}]@${replayedAt}: not sent again`);
    expect(again.stdout).toContain('0 record(s) sent, 1 letter(s) already replayed, 0 refused');
    const allRetriable = await dlq('replay', '--retriable', '--since', since);
    expect(allRetriable.stdout).toContain('0 record(s) sent, 1 letter(s) already replayed, 0 refused');
    expect(await endOffsetSum(TOPICS.paymentSuccessful)).toBe(endAfterFirst);

    await chainQuiet();
    expect((await ordersOf(userId)).map((o) => o.payment_id)).toEqual([sent.payment_id]);
    const groups = jsonLines<Group>(await dlq('--topic', PAYMENTS_DLQ, '--since', since, '--json'));
    expect(groups).toEqual([expect.objectContaining({ group: CONSUMER_GROUPS.order, retriable: true, count: 1, replayed: 1, reason: expect.stringContaining('relation "orders.orders" does not exist') })]);
  }, 300_000);
});
