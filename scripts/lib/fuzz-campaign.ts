import fc from 'fast-check';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { DLQ_TOPICS, GROUP_TOPICS, TOPICS, type EventTopic } from '@app/contracts';
import { readLetters, type Letter } from './dead-letters';
import { edgeEvent, hostileRecord, namedCases, type HostileRecord } from './hostile-records';
import { waitFor } from './wait';

/** A hostile record as written, and the good record of the same key written right behind it. */
export interface SentCase {
  record: HostileRecord;
  key: string;
  partition: number;
  offset: string;
  /** The good record behind it: its offset, its event's id, and when it was written. */
  next: { offset: string; id: string; sentAt: number };
}

/** What became of one case. */
export interface CaseOutcome extends SentCase {
  /** Letters of the hostile record, by consumer group. */
  letters: Map<string, Letter[]>;
  /** From writing the good record behind it to every group having handled it. */
  nextHandledMs?: number;
  problems: string[];
}

export interface CampaignOptions {
  kafka: Kafka;
  admin: Admin;
  query: <Row>(text: string, values?: unknown[]) => Promise<Row[]>;
  seed: number;
  /** Generated records per consumed topic (the named cases come on top). */
  runs: number;
  /** The first user id (and key) of the campaign: each case has a user of its own from there. */
  firstUserId: number;
  timeoutMs: number;
}

const CONSUMED: EventTopic[] = [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent];

/** The groups that read a topic (DESIGN.md): each must dead-letter a hostile record of it once. */
export const groupsReading = (topic: string) => Object.entries(GROUP_TOPICS).filter(([, topics]) => topics.includes(topic)).map(([group]) => group);

/** The campaign's records: per topic, `runs` generated from the seed (one seed each, so a case replays alone), then the named cases. */
export function campaignRecords(seed: number, runs: number, firstUserId: number): Array<{ userId: number; record: HostileRecord }> {
  const generated = CONSUMED.flatMap((topic, t) =>
    Array.from({ length: runs }, (_, i) => {
      const userId = firstUserId + t * runs + i;
      const [record] = fc.sample(hostileRecord(topic, userId), { seed: seed + t * runs + i, numRuns: 1 });
      return { userId, record };
    }),
  );
  const namedUser = firstUserId + CONSUMED.length * runs;
  return [...generated, ...namedCases(namedUser).map((record, i) => ({ userId: namedUser + i, record }))];
}

/** Writes each hostile record and a good one of its key right behind it, in one request so they stay together. */
export async function sendCases(producer: Producer, records: Array<{ userId: number; record: HostileRecord }>): Promise<SentCase[]> {
  return Promise.all(
    records.map(async ({ userId, record }) => {
      const key = String(userId);
      const next = edgeEvent(record.topic, userId);
      const sentAt = Date.now();
      const [written] = await producer.send({
        topic: record.topic,
        acks: -1,
        messages: [{ key, value: record.value, headers: record.headers }, { key, value: next.value }],
      });
      const offset = BigInt(written.baseOffset ?? '0');
      return { record, key, partition: written.partition, offset: String(offset), next: { offset: String(offset + 1n), id: next.id, sentAt } };
    }),
  );
}

/** Where each group records that it handled a good event of a topic: the rows its handler writes. */
const HANDLED_BY: Record<EventTopic, string> = {
  [TOPICS.paymentSuccessful]: `SELECT payment_id AS id FROM orders.orders WHERE payment_id = ANY($1)
                               INTERSECT SELECT event_id FROM analytics.events WHERE topic = $2 AND event_id = ANY($1)`,
  [TOPICS.orderCreated]: `SELECT order_id::text AS id FROM email.emails WHERE order_id::text = ANY($1)
                          INTERSECT SELECT event_id FROM analytics.events WHERE topic = $2 AND event_id = ANY($1)`,
  [TOPICS.emailSent]: 'SELECT event_id AS id FROM analytics.events WHERE topic = $2 AND event_id = ANY($1)',
};

/**
 * Waits until every good record behind a hostile one is handled by every group, noting when each was first seen.
 * At the deadline it returns what it saw: the cases it did not see are reported as failed, not lost in a timeout.
 */
export async function awaitNextRecords(options: CampaignOptions, cases: SentCase[]): Promise<Map<SentCase, number>> {
  const handledAt = new Map<SentCase, number>();
  await settled(async () => {
    for (const topic of CONSUMED) {
      const waiting = cases.filter((c) => c.record.topic === topic && !handledAt.has(c));
      if (waiting.length === 0) continue;
      const rows = await options.query<{ id: string }>(HANDLED_BY[topic], [waiting.map((c) => c.next.id), topic]);
      const seen = new Set(rows.map((r) => r.id));
      const now = Date.now();
      for (const c of waiting) if (seen.has(c.next.id)) handledAt.set(c, now);
    }
    return handledAt.size === cases.length;
  }, options.timeoutMs, 100);
  return handledAt;
}

/** Polls `done` until it is true or the time is up; whether it came true. */
async function settled(done: () => Promise<boolean>, timeoutMs: number, intervalMs: number): Promise<boolean> {
  try {
    return await waitFor(done, { timeoutMs, intervalMs, what: 'the campaign' });
  } catch {
    return false;
  }
}

/**
 * Waits until every group has committed past the good records: exactly once, a letter leaves in the transaction
 * that commits its offset, so once the offsets are there, every letter of the campaign is in its DLQ topic.
 */
export async function awaitCommits(options: CampaignOptions, cases: SentCase[]): Promise<boolean> {
  const needed = new Map<string, bigint>();
  for (const c of cases) {
    for (const group of groupsReading(c.record.topic)) {
      const key = `${group} ${c.record.topic} ${c.partition}`;
      const next = BigInt(c.next.offset) + 1n;
      if ((needed.get(key) ?? -1n) < next) needed.set(key, next);
    }
  }
  return settled(async () => {
    for (const [key, next] of needed) {
      const [group, topic, partition] = key.split(' ');
      const [offsets] = await options.admin.fetchOffsets({ groupId: group, topics: [topic] });
      const committed = offsets.partitions.find((p) => p.partition === Number(partition))?.offset ?? '-1';
      if (BigInt(committed) < next) return false;
    }
    return true;
  }, options.timeoutMs, 200);
}

/** The campaign's letters, read from the DLQ topics after the commits, matched to their cases. */
export async function outcomes(options: CampaignOptions, cases: SentCase[], handledAt: Map<SentCase, number>, since: Date): Promise<CaseOutcome[]> {
  const letters = await readLetters(options.kafka, options.admin, Object.values(DLQ_TOPICS), { since }, () => undefined);
  const byPlace = new Map<string, Letter[]>();
  for (const letter of letters) {
    const place = `${letter.record.topic}:${letter.record.partition}:${letter.record.offset}`;
    byPlace.set(place, [...(byPlace.get(place) ?? []), letter]);
  }
  return cases.map((c) => {
    const found = byPlace.get(`${c.record.topic}:${c.partition}:${c.offset}`) ?? [];
    const perGroup = new Map(groupsReading(c.record.topic).map((group) => [group, found.filter((l) => l.record.group === group)]));
    const problems: string[] = [];
    for (const [group, groupLetters] of perGroup) {
      if (groupLetters.length !== 1) problems.push(`${groupLetters.length} letters from ${group}, expected 1`);
      if (groupLetters.some((l) => l.record.retriable)) problems.push(`dead-lettered by ${group} as retriable (an outage), not as the record's fault`);
      if (groupLetters.some((l) => l.record.error.length === 0)) problems.push(`a letter from ${group} gives no reason`);
    }
    const stray = found.filter((l) => !perGroup.has(l.record.group));
    if (stray.length > 0) problems.push(`letters from groups that do not read ${c.record.topic}: ${stray.map((l) => l.record.group).join(', ')}`);
    const at = handledAt.get(c);
    if (at === undefined) problems.push('the good record behind it was not handled by every group in time');
    return { ...c, letters: perGroup, nextHandledMs: at === undefined ? undefined : at - c.next.sentAt, problems };
  });
}

/** Writes the campaign, waits for the chain to handle it, and says what became of each record. */
export async function runCampaign(options: CampaignOptions): Promise<CaseOutcome[]> {
  const since = new Date(Date.now() - 1000);
  const producer = options.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let cases: SentCase[];
  try {
    cases = await sendCases(producer, campaignRecords(options.seed, options.runs, options.firstUserId));
  } finally {
    await producer.disconnect();
  }
  const handledAt = await awaitNextRecords(options, cases);
  // Past the deadline, the letters written so far are still counted: what is missing is reported per record.
  await awaitCommits(options, cases);
  return outcomes(options, cases, handledAt, since);
}

/** Per kind of record: how many, the letters per group, and the time until the record behind was handled. */
export function summarise(results: CaseOutcome[]): string[] {
  const kinds = new Map<string, CaseOutcome[]>();
  for (const result of results) kinds.set(`${result.record.topic}  ${result.record.kind}`, [...(kinds.get(`${result.record.topic}  ${result.record.kind}`) ?? []), result]);
  const lines = ['topic  kind  records  letters per group (min-max)  next record handled after (max, ms)  failed'];
  for (const [kind, group] of [...kinds].sort(([a], [b]) => a.localeCompare(b))) {
    const counts = group.flatMap((r) => [...r.letters.values()].map((letters) => letters.length));
    const waits = group.map((r) => r.nextHandledMs ?? Number.NaN);
    const failed = group.filter((r) => r.problems.length > 0).length;
    lines.push(`${kind}  ${group.length}  ${Math.min(...counts)}-${Math.max(...counts)}  ${Math.max(...waits)}  ${failed}`);
  }
  return lines;
}
