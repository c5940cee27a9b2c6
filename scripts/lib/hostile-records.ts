import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { cartTotal, INPUT_LIMITS, MAX_CART_ITEMS, MAX_NAME_LENGTH, MAX_PRICE, MAX_QUANTITY, MAX_USER_ID, TOPICS, type EventTopic } from '@app/contracts';

/**
 * Records written straight to a consumed topic that no consumer may take: each is a good event of its topic
 * with one thing made wrong (or no event at all), so that every one must be dead-lettered, once per group,
 * and the next record of its key handled. Generated with fast-check from a seed, so a failure can be replayed.
 */
export interface HostileRecord {
  topic: EventTopic;
  /** What is wrong with it, for the report: `deep nesting`, `invalid UTF-8`, … */
  kind: string;
  value: Buffer | null;
  headers?: Record<string, Buffer>;
}

/** A JSON text spliced in where a field's value goes: what JSON.stringify cannot write (1e400, `__proto__` keys). */
type Raw = string;

/** Where a field sits in an event, and values that its contract refuses there, as JSON text. */
interface FieldRule {
  path: Array<string | number>;
  refused: fc.Arbitrary<Raw>;
}

const json = (value: unknown): Raw => JSON.stringify(value);
const rawOf = (...texts: Raw[]) => fc.constantFrom(...texts);
/** Any JSON value but the ones `accepted` takes: every type in every field. */
const anyJsonBut = (accepted: (value: unknown) => boolean) =>
  fc.jsonValue({ maxDepth: 2 }).filter((value) => !accepted(value)).map(json);

const isText = (value: unknown) => typeof value === 'string';
const isUserId = (value: unknown) => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_USER_ID;
const badText = (max: number) =>
  // Lengths count characters, not UTF-16 units: an emoji is one.
  fc.oneof(rawOf('""', json('TV\u0000'), '"TV \\ud800"', '"\\udc00 TV"', json('x'.repeat(max + 1)), json('😀'.repeat(max + 1))), anyJsonBut(isText));
/** An optional field may be null (it is then absent). */
const badOptionalText = (max: number) => badText(max).filter((raw) => raw !== 'null');
const badUserId = fc.oneof(rawOf('0', '-1', '-0', '1.5', `${MAX_USER_ID + 1}`, '1e400', '"42"'), anyJsonBut(isUserId));

/** Rules for a cart line, under `list` (`cart` or `items`), whose first line is wrong. */
const lineRules = (list: string): FieldRule[] => [
  { path: [list, 0, 'name'], refused: badText(MAX_NAME_LENGTH) },
  { path: [list, 0, 'price'], refused: fc.oneof(rawOf('0', '-1', '0.001', '1e-7', `${MAX_PRICE + 0.01}`, '1e400', '"10"'), anyJsonBut((v) => typeof v === 'number' && v > 0)) },
  { path: [list, 0, 'quantity'], refused: fc.oneof(rawOf('0', '-1', '2.5', `${MAX_QUANTITY + 1}`, '"1"', 'true', 'null'), anyJsonBut(Number.isInteger)) },
  { path: [list], refused: fc.oneof(rawOf('[]', '{}', '"cart"', 'null', json(new Array(MAX_CART_ITEMS + 1).fill({ name: 'TV', price: 1 }))), anyJsonBut(Array.isArray)) },
  { path: [list, 0], refused: fc.oneof(rawOf('[{"name":"Nested","price":10,"quantity":1}]', '42', 'null', '"TV"'), anyJsonBut((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) },
];

/** A good event of each topic, for a user, and the rules of its fields. */
const TOPIC_EVENTS: Record<EventTopic, { event: (userId: number) => Record<string, unknown>; rules: FieldRule[] }> = {
  [TOPICS.paymentSuccessful]: {
    event: (userId) => ({ payment_id: `fuzz-${randomUUID()}`, user_id: userId, cart: [{ name: 'TV', price: 10, quantity: 1 }], amount: 10, timestamp: Math.floor(Date.now() / 1000) }),
    rules: [
      { path: ['user_id'], refused: badUserId },
      { path: ['amount'], refused: rawOf('0', '-10', '10.5', '11', '1e400', '"10"', 'true', '[]') },
      { path: ['timestamp'], refused: fc.oneof(rawOf('-1', '1e400', 'null', '"2026-12-07"'), anyJsonBut((v) => typeof v === 'number')) },
      { path: ['payment_id'], refused: badOptionalText(100) },
      ...lineRules('cart'),
    ],
  },
  [TOPICS.orderCreated]: {
    event: (userId) => ({
      order_id: randomUUID(),
      payment_id: `fuzz-${randomUUID()}`,
      user_id: userId,
      items: [{ name: 'TV', price: 10, quantity: 1 }],
      total: 10,
      status: 'confirmed',
      created_at: new Date().toISOString(),
      instance_id: 'fuzz',
    }),
    rules: [
      { path: ['order_id'], refused: rawOf('0', '-1', '1.5', '"not-a-uuid"', 'null', 'true', '[]', '{}') },
      { path: ['user_id'], refused: badUserId },
      { path: ['total'], refused: rawOf('-1', '11', '1e400', '"10"', 'true') },
      { path: ['status'], refused: fc.oneof(rawOf('"sent"', '"CONFIRMED"', '""'), anyJsonBut((v) => v === 'confirmed')) },
      { path: ['created_at'], refused: rawOf('"2026-02-30T00:00:00Z"', '"yesterday"', '42', '""') },
      { path: ['instance_id'], refused: rawOf(json('i\u0000'), '"\\ud800"', json('i'.repeat(65)), '""', '7') },
      ...lineRules('items'),
    ],
  },
  [TOPICS.emailSent]: {
    event: (userId) => ({
      email_id: randomUUID(),
      order_id: randomUUID(),
      user_id: userId,
      email_to: `user_${userId}@example.com`,
      subject: 'Your order is confirmed',
      status: 'sent',
      sent_at: new Date().toISOString(),
    }),
    rules: [
      { path: ['email_id'], refused: rawOf('"not-a-uuid"', '42', 'true', '[]') },
      { path: ['order_id'], refused: rawOf('0', '"x"', 'null', '1.5') },
      { path: ['user_id'], refused: badUserId },
      { path: ['email_to'], refused: fc.oneof(rawOf('"not an email"', '""', json('a\u0000@example.com')), anyJsonBut(isText)) },
      { path: ['subject'], refused: badText(200) },
      { path: ['status'], refused: anyJsonBut((v) => v === 'sent') },
      { path: ['sent_at'], refused: rawOf('"2026-13-01T00:00:00Z"', '"soon"', '0') },
    ],
  },
};

const PLACEHOLDER = '"\u2063fuzz\u2063"';

/** The event as JSON text with the value at `path` replaced by `raw` (added if the path is new). */
export function withRaw(event: Record<string, unknown>, path: Array<string | number>, raw: Raw): string {
  const copy = structuredClone(event);
  let parent: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  parent[path[path.length - 1]] = JSON.parse(PLACEHOLDER);
  return JSON.stringify(copy).replace(PLACEHOLDER, () => raw);
}

/** Lists in lists, `levels` deep (at least the limit, so the contract always refuses it). */
const deepRaw = fc.integer({ min: INPUT_LIMITS.depth, max: 5000 }).map((levels) => `${'['.repeat(levels)}${']'.repeat(levels)}`);
const wideListRaw = fc.integer({ min: INPUT_LIMITS.items + 1, max: INPUT_LIMITS.items * 3 }).map((n) => `[${new Array(n).fill('0').join(',')}]`);
const prototypeKey = fc.constantFrom('__proto__', 'constructor', 'prototype');

/** Bytes that are never UTF-8: a lone continuation byte, a truncated sequence, an overlong form, a UTF-16 surrogate, past U+10FFFF. */
const INVALID_UTF8 = [[0xff], [0x80], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]];

type Mutated = { kind: string; value: Buffer | null };

/** One kind of wrong for events of `topic`: each an arbitrary of (kind, bytes). */
function mutations(topic: EventTopic, userId: number): Array<fc.Arbitrary<Mutated> | fc.WeightedArbitrary<Mutated>> {
  const { event, rules } = TOPIC_EVENTS[topic];
  const fieldPath = fc.constantFrom(...rules.map((rule) => rule.path));
  const text = (kind: string, body: fc.Arbitrary<string>) => body.map((value) => ({ kind, value: Buffer.from(value, 'utf8') }));
  return [
    text('deep nesting', fc.tuple(fieldPath, deepRaw).map(([path, raw]) => withRaw(event(userId), path, raw))),
    text('wide list', fc.tuple(fc.constantFrom<Array<string | number>>(['cart'], ['extra'], ['items']), wideListRaw).map(([path, raw]) => withRaw(event(userId), path, raw))),
    text('wide object', fc.integer({ min: INPUT_LIMITS.fields + 1, max: INPUT_LIMITS.fields * 4 }).map((n) => {
      const base = event(userId);
      return JSON.stringify({ ...base, ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`extra_${i}`, i])) });
    })),
    text('prototype key', fc.tuple(prototypeKey, fc.jsonValue({ maxDepth: 1 })).map(([key, value]) =>
      withRaw(event(userId), ['\u2063key'], json(value)).replace('"\u2063key"', json(key)),
    )),
    // The richest kind (every field, every JSON type): drawn as often as the others together.
    { arbitrary: text('field refused', fc.constantFrom(...rules).chain((rule) => rule.refused.map((raw) => withRaw(event(userId), rule.path, raw)))), weight: 7 },
    fc.tuple(fc.constantFrom(...INVALID_UTF8), fc.nat()).map(([bytes, at]) => {
      const valid = Buffer.from(withRaw(event(userId), ['note'], '"ab"'), 'utf8');
      const inside = valid.indexOf('"ab"') + 1 + (at % 2);
      return { kind: 'invalid UTF-8', value: Buffer.concat([valid.subarray(0, inside), Buffer.from(bytes), valid.subarray(inside)]) };
    }),
    fc.uint8Array({ maxLength: 256 }).filter((bytes) => !isJsonObject(bytes)).map((bytes) => ({ kind: 'random bytes', value: Buffer.from(bytes) })),
    fc.constantFrom(null, '', 'null', '{}', '[]', '""', '0', 'true', ' ', '{"user_id":').map((value) => ({
      kind: 'empty or null',
      value: value === null ? null : Buffer.from(value, 'utf8'),
    })),
  ];
}

function isJsonObject(bytes: Uint8Array): boolean {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** Names of Object.prototype's members: kafkajs reads a header of such a name as a list with a function in it. */
const PROTOTYPE_NAMES = ['toString', 'valueOf', 'constructor', 'hasOwnProperty', '__proto__'];

/** Headers a record may carry: odd names (Object.prototype's among them), bytes that are not text, an empty value. */
const oddHeaders: fc.Arbitrary<Record<string, Buffer> | undefined> = fc.option(
  fc
    .array(fc.tuple(fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), fc.constantFrom(...PROTOTYPE_NAMES)), fc.uint8Array({ maxLength: 64 })), { maxLength: 3 })
    // Defined, not assigned: `__proto__` is then a header, not the object's prototype.
    .map((pairs) => Object.defineProperties({}, Object.fromEntries(pairs.map(([name, bytes]) => [name, { value: Buffer.from(bytes), enumerable: true }])))),
  { nil: undefined },
);

/** A hostile record for `topic` whose key is `userId`'s. */
export function hostileRecord(topic: EventTopic, userId: number): fc.Arbitrary<HostileRecord> {
  return fc.tuple(fc.oneof(...mutations(topic, userId)), oddHeaders).map(([{ kind, value }, headers]) => ({ topic, kind, value, headers }));
}

/**
 * Bodies a client could POST to /payment, as JSON text: good ones of any size and text, and ones with one thing
 * wrong in `user_id` or `cart` (the fields a body has), or in its shape. For checking that the HTTP door and the
 * consumers refuse the same payments.
 */
export function paymentBodies(): fc.Arbitrary<string> {
  const base = () => ({ user_id: 42, cart: [{ name: 'TV', price: 10, quantity: 1 }] });
  const rules = TOPIC_EVENTS[TOPICS.paymentSuccessful].rules.filter((rule) => rule.path[0] === 'user_id' || rule.path[0] === 'cart');
  const line = fc.record(
    {
      name: fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\u0000', '\ud800', '"', ' '), minLength: 0, maxLength: MAX_NAME_LENGTH + 2 }),
      price: fc.oneof(fc.integer({ min: -1, max: MAX_PRICE * 100 + 1 }).map((cents) => cents / 100), fc.double({ noNaN: true })),
      quantity: fc.integer({ min: -1, max: MAX_QUANTITY + 1 }),
    },
    { requiredKeys: ['name', 'price'] },
  );
  const anyBody = fc.record({ user_id: fc.integer({ min: -1, max: MAX_USER_ID + 1 }), cart: fc.array(line, { maxLength: MAX_CART_ITEMS + 1 }) }).map(json);
  return fc.oneof(
    anyBody,
    fc.constantFrom(...rules).chain((rule) => rule.refused.map((raw) => withRaw(base(), rule.path, raw))),
    fc.tuple(fc.constantFrom<Array<string | number>>(['cart'], ['user_id'], ['cart', 0, 'name']), deepRaw).map(([path, raw]) => withRaw(base(), path, raw)),
    wideListRaw.map((raw) => withRaw(base(), ['extra'], raw)),
    prototypeKey.map((key) => withRaw(base(), ['cart', 0, '\u2063key'], '{}').replace('"\u2063key"', json(key))),
  );
}

/** The cases named in issues, in every run: each once failed in a way the generated corpus now covers. */
export function namedCases(userId: number): HostileRecord[] {
  const payment = TOPIC_EVENTS[TOPICS.paymentSuccessful].event(userId);
  const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  return [
    { topic: TOPICS.paymentSuccessful, kind: 'cart nested 5,000 levels deep', value: Buffer.from(withRaw(payment, ['cart'], deep)) },
    { topic: TOPICS.paymentSuccessful, kind: 'a list inside the cart', value: Buffer.from(withRaw(payment, ['cart'], '[[{"name":"Nested","price":10,"quantity":1}]]')) },
    { topic: TOPICS.paymentSuccessful, kind: 'a name in Latin-1, not UTF-8', value: Buffer.from(withRaw(payment, ['cart', 0, 'name'], '"T\u00e9l\u00e9"'), 'latin1') },
    // Once stalled every consumer: kafkajs read the header as a list holding Object.prototype's toString.
    { topic: TOPICS.paymentSuccessful, kind: 'headers named toString and __proto__', value: Buffer.from('not json'), headers: Object.defineProperties({}, { toString: { value: Buffer.from('t'), enumerable: true }, ['__proto__']: { value: Buffer.from('p'), enumerable: true } }) },
  ];
}

/**
 * A good event of `topic` for `userId` that sits at the edges its contract allows (the longest name, the
 * highest price and quantity, the lowest price, the first timestamp): the record behind the hostile one, which
 * must be handled.
 */
export function edgeEvent(topic: EventTopic, userId: number): { id: string; value: string } {
  const name = `${'é'.repeat(MAX_NAME_LENGTH - 1)}😀`;
  const line = { name, price: MAX_PRICE, quantity: MAX_QUANTITY };
  const event = TOPIC_EVENTS[topic].event(userId);
  if (topic === TOPICS.paymentSuccessful) Object.assign(event, { cart: [line, { name: 'x', price: 0.01 }], amount: cartTotal([line, { price: 0.01, quantity: 1 }]), timestamp: 0 });
  if (topic === TOPICS.orderCreated) Object.assign(event, { items: [line], total: cartTotal([line]) });
  const id = { [TOPICS.paymentSuccessful]: event.payment_id, [TOPICS.orderCreated]: event.order_id, [TOPICS.emailSent]: event.email_id }[topic];
  return { id: id as string, value: JSON.stringify(event) };
}
