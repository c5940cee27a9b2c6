import type { FieldError } from './validation';

/**
 * What any input may be before its contract is even looked at, the same for an HTTP body and a Kafka record:
 * `POST /payment` and the consumers refuse the same payments. class-transformer and class-validator recurse once
 * per level and walk every field, so these are checked first, without recursion.
 */
export const INPUT_LIMITS = {
  /** Levels of lists and objects: a payment has three (body, cart, item). */
  depth: 8,
  /** Fields of one object: an event has at most eight; room is left for fields a newer producer adds. */
  fields: 32,
  /** Items of one list: ten full carts (a cart's own limit, 100, is its contract's to name). */
  items: 1000,
  /** Bytes of an HTTP body: a full 100-item cart is about 15 kB. */
  bodyBytes: 64 * 1024,
  /**
   * Bytes of a record's value. An event made from a body can be a little larger than the body (its own fields,
   * numbers written out in full), so twice the body's limit: whatever the HTTP side accepts, a consumer reads.
   */
  recordBytes: 128 * 1024,
} as const;

/** Keys that name an object's prototype machinery: never data, refused rather than dropped, on both sides. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Longest field name quoted in a problem: a name is text of any length, a message is read by a person. */
const MAX_QUOTED_NAME = 64;

interface Pending {
  value: unknown;
  depth: number;
  /** The top-level field the value sits under, `(root)` for the value itself or a top-level list. */
  field: string;
}

/**
 * The first way `value` breaks INPUT_LIMITS (too deep, a list or an object too wide, a prototype key), named by
 * the top-level field under which it does, or undefined. Walked without recursion: a 20 kB body of 10,000
 * brackets must not overflow the stack.
 */
export function inputShapeProblem(value: unknown): FieldError | undefined {
  const pending: Pending[] = [{ value, depth: 0, field: '(root)' }];
  while (pending.length > 0) {
    const { value: current, depth, field } = pending.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    const entries = Object.entries(current);
    const found = tooDeepOrWide(current, entries.length, depth) ?? prototypeKey(entries);
    if (found) return { field, messages: [`${field === '(root)' ? 'the value' : field} ${found}`] };
    const topLevel = depth === 0 && !Array.isArray(current);
    for (const [key, child] of entries) pending.push({ value: child, depth: depth + 1, field: topLevel ? quoted(key) : field });
  }
  return undefined;
}

function tooDeepOrWide(value: object, size: number, depth: number): string | undefined {
  if (depth >= INPUT_LIMITS.depth) return `is nested too deeply (more than ${INPUT_LIMITS.depth} levels of lists and objects)`;
  if (Array.isArray(value)) return size > INPUT_LIMITS.items ? `has a list of more than ${INPUT_LIMITS.items} items` : undefined;
  return size > INPUT_LIMITS.fields ? `has an object of more than ${INPUT_LIMITS.fields} fields` : undefined;
}

function prototypeKey(entries: Array<[string, unknown]>): string | undefined {
  const key = entries.find(([name]) => PROTOTYPE_KEYS.has(name))?.[0];
  return key === undefined ? undefined : `has a field named ${key}, which is not allowed`;
}

function quoted(name: string): string {
  return name.length > MAX_QUOTED_NAME ? `${name.slice(0, MAX_QUOTED_NAME)}…` : name;
}
