import type { DeadLetterRecord } from '@app/contracts';
// The modules alone, as kafka-local's client does: the tools need not load Nest.
import { originalBytes } from '@app/kafka/dead-letter';
import { DLQ_REPLAYS_TOPIC } from '@app/kafka/topics';
import { holdsUndecodableBatch } from '@app/kafka/undecodable-batches';
import { Partitioners, type Admin, type IHeaders, type Kafka, type Message, type Transaction } from 'kafkajs';
import { distinctLetters, letterId, letterName, originalSha256, type Letter } from './dead-letters';
import { currentRanges, scanRanges } from './topic-scan';

/**
 * Every replay uses this one transactional id. Starting a replay fences any other still running (its open
 * transaction is aborted, its next commit refused), and the replay reads the markers only after that, so two
 * replays at once can never both send a letter: the later one sees the earlier one's commit or wins alone.
 */
export const REPLAY_TRANSACTIONAL_ID = 'dlq-replay';
/** Records sent back per transaction: a large replay commits as it goes, within the transaction timeout. */
const CHUNK = 100;

/** What `dlq-replays` holds for a letter that was sent back. */
export interface ReplayMarker {
  letter: string;
  /** The marker counts only for this letter: a DLQ topic recreated has other letters at the same offsets. */
  letter_sha256: string;
  /** The record the letter holds, `topic:partition:offset`, and its value's hash. */
  source: string;
  original_sha256: string;
  replayed_to: { topic: string; partition: number; offset: string };
  replayed_at: string;
  /** Set when another letter of the same record (another group dead-lettered it too) was the one sent. */
  sent_as?: string;
}

/** Reads the markers (read_committed: a replay that did not commit left none), the latest of each letter. */
export async function readMarkers(kafka: Kafka, admin: Admin): Promise<ReplayLedger> {
  const markers = new Map<string, ReplayMarker>();
  if (!(await admin.listTopics()).includes(DLQ_REPLAYS_TOPIC)) return new ReplayLedger(markers);
  await scanRanges(kafka, await currentRanges(admin, [DLQ_REPLAYS_TOPIC]), (_topic, _partition, message) => {
    const key = String(message.key);
    if (message.value === null) markers.delete(key);
    else markers.set(key, JSON.parse(String(message.value)) as ReplayMarker);
  });
  return new ReplayLedger(markers);
}

/** Which letters were sent back already, by their own marker or their record's. */
export class ReplayLedger {
  private readonly bySource = new Map<string, ReplayMarker>();

  constructor(private readonly markers: Map<string, ReplayMarker>) {
    for (const marker of markers.values()) this.bySource.set(`${marker.source}:${marker.original_sha256}`, marker);
  }

  replayOf(letter: Letter): ReplayMarker | undefined {
    const own = this.markers.get(letterId(letter));
    if (own && own.letter_sha256 === letter.sha256) return own;
    return letter.record.truncated ? undefined : this.bySource.get(sourceKey(letter.record));
  }
}

export type Decision =
  | { action: 'send'; letter: Letter }
  /** The same record as a letter sent in this run: it goes once, and both are marked. */
  | { action: 'with'; letter: Letter; first: Letter }
  | { action: 'done'; letter: Letter; marker: ReplayMarker }
  | { action: 'refuse'; letter: Letter; why: string };

/** What a replay of these letters does with each. */
export function planReplay(letters: Letter[], ledger: ReplayLedger): Decision[] {
  const sending = new Map<string, Letter>();
  return letters.map((letter): Decision => {
    const why = refusal(letter.record);
    if (why) return { action: 'refuse', letter, why };
    const marker = ledger.replayOf(letter);
    if (marker) return { action: 'done', letter, marker };
    const source = sourceKey(letter.record);
    const first = sending.get(source);
    if (first) return { action: 'with', letter, first };
    sending.set(source, letter);
    return { action: 'send', letter };
  });
}

function refusal(record: DeadLetterRecord): string | undefined {
  if (record.truncated) {
    return (
      `truncated: the letter was cut to fit its topic (it keeps ${originalBytes(record)?.length ?? 0} of the ${record.original_bytes} bytes of the value, ` +
      'or less than the whole key or headers), so the record cannot be sent back as it was'
    );
  }
  if (holdsUndecodableBatch(record.error)) {
    return 'it holds a whole record batch the consumer could not decode, not one record: sent back, its bytes would be one value';
  }
  return undefined;
}

/** The record as it was: key, value and headers decoded to their original bytes. */
export function originalMessage(record: DeadLetterRecord): Message {
  const headers: Record<string, Array<Buffer | null>> = {};
  for (const header of record.original_headers) {
    (headers[header.key] ??= []).push(header.value === null ? null : Buffer.from(header.value, header.encoding));
  }
  return {
    key: record.original_key === null ? null : Buffer.from(record.original_key, record.original_key_encoding),
    value: originalBytes(record),
    // kafkajs writes a null header value as a header without a value, as it came.
    headers: Object.fromEntries(Object.entries(headers).map(([key, values]) => [key, values.length === 1 ? values[0] : values])) as IHeaders,
  };
}

export interface ReplayReport {
  sent: number;
  done: number;
  refused: number;
  /** Letters left out as repeats of another of the same record and group (see distinctLetters). */
  repeats: number;
}

/**
 * Sends the letters' records back to their source topics, each once: the record and the markers of its
 * letters go in one transaction, so either both are written or neither. A record goes to the partition it
 * came from (its key's, as the course's clients and other partitioners may have chosen it), unless the topic
 * now has fewer partitions, when the key chooses.
 */
export async function replay(kafka: Kafka, admin: Admin, chosen: Letter[], opts: { dryRun: boolean; print: (line: string) => void }): Promise<ReplayReport> {
  const { print } = opts;
  // A letter written again for the same record and group is no second record: only the first is sent and marked.
  const { letters, repeats } = distinctLetters(chosen);
  if (opts.dryRun) {
    const plan = planReplay(letters, await readMarkers(kafka, admin));
    for (const decision of plan) print(describe(decision, undefined, true));
    return report(plan, repeats);
  }
  const producer = kafka.producer({
    transactionalId: REPLAY_TRANSACTIONAL_ID,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  let transaction: Transaction | undefined;
  try {
    // The first transaction fences earlier replays; only then are their markers final and read.
    transaction = await producer.transaction();
    const plan = planReplay(letters, await readMarkers(kafka, admin));
    const sends = plan.filter((d): d is Extract<Decision, { action: 'send' }> => d.action === 'send');
    const partitions = await partitionCounts(admin, [...new Set(sends.map((d) => d.letter.record.topic))]);
    const sentTo = new Map<Letter, ReplayMarker['replayed_to']>();
    for (let start = 0; start < sends.length; start += CHUNK) {
      transaction ??= await producer.transaction();
      const markers: Message[] = [];
      for (const { letter } of sends.slice(start, start + CHUNK)) {
        const { record } = letter;
        const partition = record.partition < (partitions.get(record.topic) ?? 0) ? record.partition : undefined;
        const [written] = await transaction.send({ topic: record.topic, acks: -1, messages: [{ ...originalMessage(record), partition }] });
        const to = { topic: record.topic, partition: written.partition, offset: written.baseOffset ?? '?' };
        sentTo.set(letter, to);
        for (const decision of plan) {
          const same = decision.letter === letter || (decision.action === 'with' && decision.first === letter);
          if (same) markers.push(markerMessage(decision.letter, to, decision.letter === letter ? undefined : letter));
        }
      }
      await transaction.send({ topic: DLQ_REPLAYS_TOPIC, acks: -1, messages: markers });
      await transaction.commit();
      transaction = undefined;
    }
    for (const decision of plan) print(describe(decision, sentTo.get(decision.action === 'with' ? decision.first : decision.letter), false));
    return report(plan, repeats);
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED') {
      throw new Error('another replay started meanwhile and fenced this one: what this one had not committed was not sent; run it again to see what is left');
    }
    throw error;
  } finally {
    // A transaction left open (nothing to send, or a failure) is aborted: nothing of it is ever read.
    if (transaction) await transaction.abort().catch(() => undefined);
    await producer.disconnect();
  }
}

function markerMessage(letter: Letter, to: ReplayMarker['replayed_to'], sentAs: Letter | undefined): Message {
  const marker: ReplayMarker = {
    letter: letterId(letter),
    letter_sha256: letter.sha256,
    source: `${letter.record.topic}:${letter.record.partition}:${letter.record.offset}`,
    original_sha256: originalSha256(letter.record),
    replayed_to: to,
    replayed_at: new Date().toISOString(),
    ...(sentAs ? { sent_as: letterId(sentAs) } : {}),
  };
  return { key: marker.letter, value: JSON.stringify(marker) };
}

function describe(decision: Decision, to: ReplayMarker['replayed_to'] | undefined, dryRun: boolean): string {
  const { letter } = decision;
  const name = letterName(letter);
  const { record } = letter;
  const where = (t: ReplayMarker['replayed_to']) => `${t.topic}[${t.partition}]@${t.offset}`;
  switch (decision.action) {
    case 'send': {
      const what = `key ${record.original_key === null ? 'null' : JSON.stringify(record.original_key)}, ${record.original_bytes} bytes, ${record.original_headers.length} header(s)`;
      return dryRun
        ? `would replay ${name} to ${record.topic}[${record.partition}] (${what})`
        : `replayed ${name} → ${to ? where(to) : record.topic} (${what})`;
    }
    case 'with':
      return `${dryRun ? 'would replay' : 'replayed'} ${name} with ${letterName(decision.first)}: the same record (${record.topic}[${record.partition}]@${record.offset}), sent once`;
    case 'done': {
      const other = decision.marker.letter !== letterId(letter) ? ` with ${decision.marker.letter}, the same record` : '';
      return `already replayed ${name}${other} at ${decision.marker.replayed_at} → ${where(decision.marker.replayed_to)}: not sent again`;
    }
    case 'refuse':
      return `refused ${name}: ${decision.why}`;
  }
}

function report(plan: Decision[], repeats: number): ReplayReport {
  const count = (action: Decision['action']) => plan.filter((d) => d.action === action).length;
  return { sent: count('send'), done: count('done'), refused: count('refuse'), repeats };
}

function sourceKey(record: DeadLetterRecord): string {
  return `${record.topic}:${record.partition}:${record.offset}:${originalSha256(record)}`;
}

async function partitionCounts(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  if (topics.length === 0) return new Map();
  const { topics: found } = await admin.fetchTopicMetadata({ topics });
  return new Map(found.map((t) => [t.name, t.partitions.length]));
}
