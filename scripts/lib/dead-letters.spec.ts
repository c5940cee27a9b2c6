import { createHash } from 'node:crypto';
import { buildDeadLetter } from '@app/kafka/dead-letter';
import type { Admin, Kafka } from 'kafkajs';
import { describeOffsets, distinctLetters, foldReason, groupLetters, parseOffsets, parseSince, selects, type Letter } from './dead-letters';
import { originalMessage, planReplay, replay, ReplayLedger, type ReplayMarker } from './dlq-replay';

function letter(offset: number, error: string, overrides: Partial<Letter['record']> = {}, value: Buffer | string = `{"n":${offset}}`): Letter {
  const { record } = buildDeadLetter(
    { key: '42', value, topic: 'payment-successful', partition: 1, offset: String(100 + offset) },
    { error, retriable: false, group: 'order-service-group', instanceId: '1', now: new Date(Date.UTC(2026, 10, 27, 9, 0, offset)) },
  );
  return { dlqTopic: 'dlq-payment', partition: 0, offset: String(offset), record: { ...record, ...overrides }, reason: foldReason(error), sha256: `sha-${offset}` };
}

describe('foldReason', () => {
  it.each([
    [
      `PoisonMessageError: the value is not valid JSON: Unexpected token 'o', "not json 55"... is not valid JSON`,
      `PoisonMessageError: the value is not valid JSON: Unexpected token 'c', ...""cart": [ c5f9647d-5"... is not valid JSON`,
    ],
    ['ContractViolation: amount: amount 1 does not match the cart total 5', 'ContractViolation: amount: amount 19.99 does not match the cart total 250'],
    ['got the text "just text c5f9647d-55fa-4896-ad48-152055aa0011"', 'got the text "other text 2026-11-27T09:00:00Z"'],
    ['the record batch at offsets 1..3 (3 record(s))', 'the record batch at offsets 9000..9044 (45 record(s))'],
    ['payment 3f2a9c0d1e4b7a6c5d8e9f00 is unknown', 'payment 0x7fa3 is unknown'],
  ])('gives one reason for %j and %j', (a, b) => {
    expect(foldReason(a)).toBe(foldReason(b));
  });

  it('keeps what names the failure: quoted names, SQLSTATEs, words', () => {
    expect(foldReason('error: relation "orders.orders" does not exist')).toBe('error: relation "orders.orders" does not exist');
    expect(foldReason('DataRejected: (SQLSTATE 22P02): invalid input syntax for type json')).toBe('DataRejected: (SQLSTATE 22P02): invalid input syntax for type json');
    expect(foldReason("the batch's bytes are kept")).toBe("the batch's bytes are kept");
    expect(foldReason('cart.0.name must not contain the NUL character (\\u0000)')).toBe('cart.#.name must not contain the NUL character (\\u0000)');
    expect(foldReason('user_id is required')).not.toBe(foldReason('amount is required'));
  });
});

describe('groupLetters', () => {
  it('counts the letters of one source topic, group, reason and kind together', () => {
    const letters = [
      letter(0, `Unexpected token 'a', "a 1" is not valid JSON`),
      letter(1, `Unexpected token 'b', "b 2" is not valid JSON`),
      letter(2, `Unexpected token 'b', "b 2" is not valid JSON`, { group: 'analytics-service-group' }),
      letter(3, 'error: relation "orders.orders" does not exist', { retriable: true }),
      letter(4, 'error: relation "orders.orders" does not exist', { retriable: false }),
    ];
    const groups = groupLetters(letters, (l) => l.offset === '1');
    expect(groups.map((g) => [g.group, g.count, g.replayed, g.retriable, g.offsets['0']])).toEqual([
      ['analytics-service-group', 1, 0, false, ['2']],
      ['order-service-group', 2, 1, false, ['0', '1']],
      ['order-service-group', 1, 0, true, ['3']],
      ['order-service-group', 1, 0, false, ['4']],
    ]);
    expect(groups[1]).toMatchObject({ first_at: '2026-11-27T09:00:00.000Z', last_at: '2026-11-27T09:00:01.000Z' });
  });
});

describe('distinctLetters', () => {
  // Letter 3 holds payment-successful[1]@103 as order's group dead-lettered it; 7 is order's again, after a redelivery.
  const first = letter(3, 'error: relation "orders.orders" does not exist', { retriable: true });
  const again = { ...letter(3, 'amount 1 does not match the cart total 5', { timestamp: '2026-11-27T09:05:00.000Z' }), offset: '7', sha256: 'sha-7' };
  const byAnalytics = { ...letter(3, 'outage', { group: 'analytics-service-group' }), offset: '4', sha256: 'sha-4' };

  it('counts a record once per group, keeping its first letter: the one written again after a redelivery is a repeat', () => {
    expect(distinctLetters([first, again])).toEqual({ letters: [first], repeats: 1 });
    const { letters } = distinctLetters([first, letter(5, 'outage'), again]);
    expect(groupLetters(letters).map((g) => [g.reason, g.retriable, g.count, g.offsets['0']])).toEqual([
      ['error: relation "orders.orders" does not exist', true, 1, ['3']],
      ['outage', false, 1, ['5']],
    ]);
  });

  it('counts the same record twice when two groups dead-lettered it', () => {
    expect(distinctLetters([first, byAnalytics])).toEqual({ letters: [first, byAnalytics], repeats: 0 });
  });

  it('does not fold another record at the same offset of a recreated source topic', () => {
    const other = { ...letter(3, 'outage', {}, '{"n":"another record"}'), offset: '9', sha256: 'sha-9' };
    expect(distinctLetters([first, other]).repeats).toBe(0);
  });

  it("is what replay sends from: a record goes once, and the report counts its repeats", async () => {
    const noMarkers = { listTopics: async () => [] } as unknown as Admin;
    const lines: string[] = [];
    const report = await replay({} as Kafka, noMarkers, [first, byAnalytics, again], { dryRun: true, print: (line) => lines.push(line) });
    expect(report).toEqual({ sent: 1, done: 0, refused: 0, repeats: 1 });
    expect(lines).toEqual([
      expect.stringMatching(/^would replay dlq-payment@3 to payment-successful\[1\]/),
      'would replay dlq-payment@4 with dlq-payment@3: the same record (payment-successful[1]@103), sent once',
    ]);
  });
});

describe('the options', () => {
  it('reads --since as a duration before now or an ISO time, and refuses anything else', () => {
    const now = new Date('2026-11-27T10:00:00Z');
    expect(parseSince('15m', now).toISOString()).toBe('2026-11-27T09:45:00.000Z');
    expect(parseSince('2h', now).toISOString()).toBe('2026-11-27T08:00:00.000Z');
    expect(parseSince('2026-11-27T09:00:00Z', now).toISOString()).toBe('2026-11-27T09:00:00.000Z');
    expect(() => parseSince('yesterday', now)).toThrow(/duration .* or an ISO time/);
    expect(() => parseSince('15', now)).toThrow(/--since "15"/);
  });

  it('reads --offset as offsets and ranges', () => {
    const chosen = parseOffsets('5,7,10-12');
    expect(['4', '5', '6', '7', '9', '10', '12', '13'].filter(chosen)).toEqual(['5', '7', '10', '12']);
    expect(() => parseOffsets('5,x')).toThrow(/5,7,10-20/);
    expect(() => parseOffsets('9-3')).toThrow(/ends before it starts/);
    expect(describeOffsets(['12', '0', '1', '2', '7', '11'])).toBe('0-2, 7, 11-12');
  });

  it('chooses a letter only when every criterion holds; --reason matches the reason or the error', () => {
    const outage = letter(3, 'error: relation "orders.orders" does not exist', { retriable: true });
    const bad = letter(4, 'amount 1 does not match the cart total 5');
    expect(selects({ retriable: true }, outage)).toBe(true);
    expect(selects({ retriable: true }, bad)).toBe(false);
    expect(selects({ reason: 'ORDERS.ORDERS', offsets: parseOffsets('3') }, outage)).toBe(true);
    expect(selects({ reason: 'orders.orders', offsets: parseOffsets('4') }, outage)).toBe(false);
    expect(selects({ reason: 'amount # does not match' }, bad)).toBe(true);
    expect(selects({ reason: 'total 5' }, bad)).toBe(true);
  });
});

describe('planReplay', () => {
  const marker = (of: Letter, sha = of.sha256): ReplayMarker => ({
    letter: `dlq-payment:0:${of.offset}`,
    letter_sha256: sha,
    source: `payment-successful:1:${of.record.offset}`,
    original_sha256: 'not this record',
    replayed_to: { topic: 'payment-successful', partition: 1, offset: '900' },
    replayed_at: '2026-11-27T09:30:00.000Z',
  });

  it('refuses truncated letters and whole batches, skips what was replayed, and sends a record once', () => {
    const truncated = letter(0, 'outage', { truncated: true, retriable: true });
    const batch = letter(1, 'PoisonMessageError: the client could not decode the record batch at offsets 1..3');
    const replayed = letter(2, 'outage');
    const fresh = letter(3, 'outage');
    const sameRecord = { ...letter(3, 'outage', { group: 'analytics-service-group' }), offset: '4', sha256: 'sha-4' };
    const ledger = new ReplayLedger(new Map([[`dlq-payment:0:2`, marker(replayed)]]));
    expect(planReplay([truncated, batch, replayed, fresh, sameRecord], ledger).map((d) => d.action)).toEqual(['refuse', 'refuse', 'done', 'send', 'with']);
  });

  it('does not take a marker for another letter that sits at the same offset of a recreated topic', () => {
    const now = letter(2, 'outage');
    const ledger = new ReplayLedger(new Map([[`dlq-payment:0:2`, marker(now, 'the letter that was there before')]]));
    expect(planReplay([now], ledger).map((d) => d.action)).toEqual(['send']);
  });

  it('takes a record as replayed when another letter of it was', () => {
    const byOrder = letter(2, 'outage');
    const byAnalytics = { ...letter(2, 'outage', { group: 'analytics-service-group' }), offset: '3', sha256: 'sha-3' };
    const { original_sha256: _, ...rest } = marker(byOrder);
    const ledger = new ReplayLedger(new Map([[`dlq-payment:0:2`, { ...rest, original_sha256: sourceHash(byOrder) }]]));
    expect(planReplay([byAnalytics], ledger).map((d) => d.action)).toEqual(['done']);
  });
});

describe('originalMessage', () => {
  it('gives back the key, value and headers byte for byte, binary ones and empty headers included', () => {
    const value = Buffer.from([0xff, 0x00, 0x7b, 0x0a]);
    const { record } = buildDeadLetter(
      { key: Buffer.from([0xc3, 0x28]), value, headers: { trace: [Buffer.from('a'), Buffer.from([0xfe])], empty: undefined as unknown as Buffer }, topic: 't', partition: 0, offset: '1' },
      { error: 'x', retriable: true, group: 'g', instanceId: '1' },
    );
    const message = originalMessage(JSON.parse(JSON.stringify(record)));
    expect(message.value).toEqual(value);
    expect(message.key).toEqual(Buffer.from([0xc3, 0x28]));
    expect(message.headers).toEqual({ trace: [Buffer.from('a'), Buffer.from([0xfe])], empty: null });
  });
});

function sourceHash(of: Letter): string {
  return createHash('sha256').update(Buffer.from(of.record.original_message!, of.record.original_encoding)).digest('hex');
}
