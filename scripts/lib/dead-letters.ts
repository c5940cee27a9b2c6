import { createHash } from 'node:crypto';
import type { DeadLetterRecord } from '@app/contracts';
// The module alone, as kafka-local's client does: the tools need not load Nest.
import { originalBytes } from '@app/kafka/dead-letter';
import type { Admin, Kafka } from 'kafkajs';
import { currentRanges, scanRanges } from './topic-scan';

/** A dead letter as it sits in its DLQ topic. */
export interface Letter {
  dlqTopic: string;
  partition: number;
  offset: string;
  record: DeadLetterRecord;
  /** The letter's error with its variable parts folded (see foldReason). */
  reason: string;
  /** SHA-256 of the letter's bytes: tells this letter from another at the same offset of a recreated topic. */
  sha256: string;
}

/** `dlq-payment:0:5`: a letter's place, the key of its replay marker. */
export function letterId(letter: Pick<Letter, 'dlqTopic' | 'partition' | 'offset'>): string {
  return `${letter.dlqTopic}:${letter.partition}:${letter.offset}`;
}

/** `dlq-payment@5`, or `dlq-payment[1]@5` on a partition other than the only one. */
export function letterName(letter: Pick<Letter, 'dlqTopic' | 'partition' | 'offset'>): string {
  return `${letter.dlqTopic}${letter.partition === 0 ? '' : `[${letter.partition}]`}@${letter.offset}`;
}

/** Reads the letters of the DLQ topics (those since a time, or the last n of each partition), oldest first. */
export async function readLetters(
  kafka: Kafka,
  admin: Admin,
  topics: string[],
  opts: { since?: Date; last?: number } = {},
  warn: (line: string) => void = console.warn,
): Promise<Letter[]> {
  const letters: Letter[] = [];
  await scanRanges(kafka, await currentRanges(admin, topics, opts), (dlqTopic, partition, message) => {
    const place = { dlqTopic, partition, offset: message.offset };
    let record: DeadLetterRecord;
    try {
      record = JSON.parse(String(message.value)) as DeadLetterRecord;
      if (typeof record?.error !== 'string' || typeof record.topic !== 'string') throw new Error('no error or topic');
    } catch (error) {
      warn(`${letterName(place)} is not a dead letter (${(error as Error).message}): left out`);
      return;
    }
    // A record written just before the time may carry a later letter timestamp; the letter's own time decides.
    if (opts.since && Date.parse(record.timestamp) < opts.since.getTime()) return;
    letters.push({ ...place, record, reason: foldReason(record.error), sha256: createHash('sha256').update(message.value ?? '').digest('hex') });
  });
  return letters.sort((a, b) => a.dlqTopic.localeCompare(b.dlqTopic) || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

/**
 * The letters with each record once per group. Under at-least-once a record handled again (after a retry, a
 * rebalance or a restart) gets another letter from the same group: the first in the order given is kept (in
 * readLetters' order, the earliest in its DLQ topic). The original's hash is part of the identity, as a
 * recreated source topic holds other records at the same offsets.
 */
export function distinctLetters(letters: Letter[]): { letters: Letter[]; repeats: number } {
  const seen = new Set<string>();
  const distinct = letters.filter((letter) => {
    const { group, topic, partition, offset } = letter.record;
    const identity = JSON.stringify([group, topic, partition, offset, originalSha256(letter.record)]);
    if (seen.has(identity)) return false;
    seen.add(identity);
    return true;
  });
  return { letters: distinct, repeats: letters.length - distinct.length };
}

/** The SHA-256 of the whole original value: the letter's own when it was cut to fit. */
export function originalSha256(record: DeadLetterRecord): string {
  return record.original_sha256 ?? createHash('sha256').update(originalBytes(record) ?? Buffer.alloc(0)).digest('hex');
}

/** Quoted text that names something (a table, a constraint, a field) rather than quoting a record's content. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z_.$-]{0,62}$/;

/**
 * The reason of an error: its text with what varies from record to record folded, so that 500 letters of one
 * bug read as one reason. Numbers become `#` (not a SQLSTATE), ids `<uuid>`, times `<time>`, and quoted text that is not a name
 * `"…"` (JSON.parse quotes the record it failed on). Names in quotes stay: `relation "orders.orders"`.
 */
export function foldReason(error: string): string {
  return error
    .replace(/(Unexpected token )'.*?', .*? is not valid JSON/gs, `$1'…', "…" is not valid JSON`)
    .replace(/(?<!\w)'[^'\n]*'(?!\w)/g, `'…'`)
    .replace(/"((?:[^"\\\n]|\\.)*)"(…|\.\.\.)?/g, (quoted: string, inner: string) => (IDENTIFIER.test(inner) ? quoted : '"…"'))
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(/\b(0x[0-9a-f]+|(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{12,})\b/gi, '<hex>')
    // A SQLSTATE names the kind of failure (22P02), an escape the character refused (\u0000): they stay.
    .replace(/(?<!SQLSTATE [0-9A-Z]{0,4}|\\u[0-9a-fA-F]{0,3})\d+(\.\d+)?/g, '#')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Letters of one source topic, group and reason (retriable or not: an outage is not a bad record). */
export interface LetterGroup {
  source_topic: string;
  dlq_topic: string;
  group: string;
  reason: string;
  retriable: boolean;
  count: number;
  replayed: number;
  truncated: number;
  first_at: string;
  last_at: string;
  /** The letters' DLQ offsets, by partition. */
  offsets: Record<string, string[]>;
}

export function groupLetters(letters: Letter[], isReplayed: (letter: Letter) => boolean = () => false): LetterGroup[] {
  const groups = new Map<string, LetterGroup>();
  for (const letter of letters) {
    const { record } = letter;
    const key = JSON.stringify([record.topic, letter.dlqTopic, record.group, letter.reason, record.retriable]);
    let group = groups.get(key);
    if (!group) {
      group = {
        source_topic: record.topic,
        dlq_topic: letter.dlqTopic,
        group: record.group,
        reason: letter.reason,
        retriable: record.retriable,
        count: 0,
        replayed: 0,
        truncated: 0,
        first_at: record.timestamp,
        last_at: record.timestamp,
        offsets: {},
      };
      groups.set(key, group);
    }
    group.count += 1;
    if (isReplayed(letter)) group.replayed += 1;
    if (record.truncated) group.truncated += 1;
    if (record.timestamp < group.first_at) group.first_at = record.timestamp;
    if (record.timestamp > group.last_at) group.last_at = record.timestamp;
    (group.offsets[letter.partition] ??= []).push(letter.offset);
  }
  return [...groups.values()].sort(
    (a, b) => a.source_topic.localeCompare(b.source_topic) || a.group.localeCompare(b.group) || b.count - a.count || a.reason.localeCompare(b.reason),
  );
}

/** `0-3, 7, 9-12`: offsets as ranges, at most `max` of them. */
export function describeOffsets(offsets: string[], max = 8): string {
  const sorted = offsets.map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const runs: Array<[bigint, bigint]> = [];
  for (const offset of sorted) {
    const last = runs[runs.length - 1];
    if (last && offset === last[1] + 1n) last[1] = offset;
    else runs.push([offset, offset]);
  }
  const shown = runs.slice(0, max).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  return runs.length > max ? `${shown.join(', ')}, … (${runs.length - max} more ranges)` : shown.join(', ');
}

/** `15m`, `2h`, `1d`, `30s` before now, or an ISO 8601 time. */
export function parseSince(text: string, now = new Date()): Date {
  const relative = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (relative) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(relative[1]) * unit);
  }
  const time = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim()) || Number.isNaN(time)) {
    throw new Error(`--since ${JSON.stringify(text)}: give a duration (30s, 15m, 2h, 1d) or an ISO time (2026-11-27T09:00:00Z)`);
  }
  return new Date(time);
}

/** `5,7,10-20` as a test of an offset. */
export function parseOffsets(text: string): (offset: string) => boolean {
  const ranges = text.split(',').map((part) => {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match) throw new Error(`--offset ${JSON.stringify(text)}: give offsets and ranges such as 5,7,10-20`);
    const from = BigInt(match[1]);
    const to = match[2] === undefined ? from : BigInt(match[2]);
    if (to < from) throw new Error(`--offset ${part.trim()}: the range ends before it starts`);
    return [from, to] as const;
  });
  return (offset) => ranges.some(([from, to]) => BigInt(offset) >= from && BigInt(offset) <= to);
}

export interface Selection {
  offsets?: (offset: string) => boolean;
  partition?: number;
  reason?: string;
  retriable?: boolean;
}

/** Whether a letter is chosen: every criterion given must hold. `reason` is a part of its reason or its error. */
export function selects(selection: Selection, letter: Letter): boolean {
  if (selection.partition !== undefined && letter.partition !== selection.partition) return false;
  if (selection.offsets && !selection.offsets(letter.offset)) return false;
  if (selection.retriable && !letter.record.retriable) return false;
  if (selection.reason !== undefined) {
    const wanted = selection.reason.toLowerCase();
    if (!letter.reason.toLowerCase().includes(wanted) && !letter.record.error.toLowerCase().includes(wanted)) return false;
  }
  return true;
}
