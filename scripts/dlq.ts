import { Command } from 'commander';
import { DLQ_TOPICS } from '@app/contracts';
import { ensureTopics } from '@app/kafka/topics';
import type { Admin, Kafka } from 'kafkajs';
import { toolKafka } from './lib/kafka-local';
import { describeOffsets, distinctLetters, groupLetters, letterName, parseOffsets, parseSince, readLetters, selects, type Letter, type Selection } from './lib/dead-letters';
import { readMarkers, replay } from './lib/dlq-replay';

/**
 * `npm run dlq`: what the dead-letter topics hold, grouped by source topic, consumer group and reason, with
 * counts; `show` prints the letters themselves; `replay` sends chosen letters' records back to their topics,
 * each once. Reading joins no consumer group that commits: it moves nobody's offsets.
 */
interface Common {
  topic?: string;
  since?: string;
  json?: boolean;
  offset?: string;
  partition?: number;
  reason?: string;
  retriable?: boolean;
}

const DEFAULT_LAST = 20;
const REASON_WIDTH = 160;

const program = new Command('dlq').description('the dead letters of the chain: a summary, the letters, and their replay');

function withScope(command: Command): Command {
  return command
    .option('-t, --topic <topic>', `one DLQ topic (${Object.values(DLQ_TOPICS).join(', ')})`)
    .option('--since <time>', 'letters since a time: a duration before now (30s, 15m, 2h, 1d) or an ISO time');
}

function withSelection(command: Command): Command {
  return command
    .option('--offset <offsets>', 'letters at these DLQ offsets, e.g. 5,7,10-20 (with --topic)')
    .option('--partition <n>', 'the DLQ partition of --offset (DLQ topics have one: 0)', (v) => Number.parseInt(v, 10))
    .option('--reason <text>', 'letters whose reason (as the summary shows it) or error contains the text')
    .option('--retriable', 'retriable letters only: parked after an outage outlasted RETRY_MAX_MS');
}

withScope(program.command('summary', { isDefault: true }).description('dead letters grouped by source topic, group and reason, with counts'))
  .option('--json', 'one JSON object per group and line')
  .action((opts: Common) => run((kafka, admin) => summary(kafka, admin, opts)));

withSelection(withScope(program.command('show').description('the letters themselves, oldest first')))
  .option('-n, --last <n>', `only the last n chosen letters of each topic (default ${DEFAULT_LAST})`, (v) => Number.parseInt(v, 10))
  .option('--all', 'every chosen letter')
  .option('--json', 'one letter per line, as JSON')
  .action((opts: Common & { last?: number; all?: boolean }) => run((kafka, admin) => show(kafka, admin, opts)));

withSelection(withScope(program.command('replay').description("sends chosen letters' records back to their source topic, each once")))
  .option('--dry-run', 'print what would be sent, send nothing')
  .action((opts: Common & { dryRun?: boolean }) => run((kafka, admin) => replayCommand(kafka, admin, opts)));

async function summary(kafka: Kafka, admin: Admin, opts: Common): Promise<void> {
  const { topics, since } = scope(opts);
  const { letters, repeats } = distinctLetters(await readLetters(kafka, admin, topics, { since }));
  const ledger = await readMarkers(kafka, admin);
  const groups = groupLetters(letters, (letter) => ledger.replayOf(letter) !== undefined);
  if (opts.json) {
    for (const group of groups) console.log(JSON.stringify(group));
    // On stderr: stdout stays one group per line.
    if (repeats > 0) console.warn(repeatsNote(repeats, 'not counted'));
    return;
  }
  const where = `${topics.join(', ')}${since ? ` since ${since.toISOString()}` : ''}`;
  if (letters.length === 0) {
    console.log(`no dead letters in ${where}`);
    return;
  }
  console.log(`${letters.length} dead letter(s) in ${where}, in ${groups.length} group(s):`);
  if (repeats > 0) console.log(repeatsNote(repeats, 'not counted'));
  let heading = '';
  for (const group of groups) {
    const next = `${group.source_topic} → ${group.dlq_topic}, ${group.group}`;
    if (next !== heading) console.log(`\n${(heading = next)}`);
    const reason = group.reason.length > REASON_WIDTH ? `${group.reason.slice(0, REASON_WIDTH - 1)}…` : group.reason;
    console.log(`${String(group.count).padStart(7)}  ${group.retriable ? 'retriable ' : 'bad record'}  ${reason}`);
    const offsets = Object.entries(group.offsets).map(([partition, list]) => `${partition === '0' ? '' : `[${partition}] `}${describeOffsets(list)}`);
    const notes = [group.replayed > 0 ? `${group.replayed} replayed` : '', group.truncated > 0 ? `${group.truncated} truncated` : ''].filter(Boolean);
    const times = group.first_at === group.last_at ? group.first_at : `${group.first_at} … ${group.last_at}`;
    console.log(`${' '.repeat(22)}offsets ${offsets.join('; ')}, ${times}${notes.length > 0 ? `, ${notes.join(', ')}` : ''}`);
  }
}

async function show(kafka: Kafka, admin: Admin, opts: Common & { last?: number; all?: boolean }): Promise<void> {
  const { topics, since } = scope(opts);
  const selection = selectionOf(opts, topics);
  const last = opts.all ? undefined : (opts.last ?? DEFAULT_LAST);
  // Without a filter only the end of each partition needs reading: twice as many offsets as letters and one,
  // as a letter written in a transaction of its own is followed by the transaction's marker.
  const filtered = since !== undefined || Object.values(selection).some((v) => v !== undefined);
  const read = await readLetters(kafka, admin, topics, { since, last: filtered || last === undefined ? undefined : 2 * last + 1 });
  const { letters: chosen, repeats } = distinctLetters(choose(read, selection));
  const letters = last === undefined ? chosen : topics.flatMap((topic) => chosen.filter((l) => l.dlqTopic === topic).slice(-last));
  const ledger = await readMarkers(kafka, admin);
  if (letters.length === 0 && !opts.json) console.log(`no dead letters in ${topics.join(', ')} match`);
  for (const letter of letters) {
    const replayed = ledger.replayOf(letter) ?? null;
    const { record } = letter;
    if (opts.json) {
      console.log(JSON.stringify({ dlq_topic: letter.dlqTopic, dlq_partition: letter.partition, dlq_offset: letter.offset, reason: letter.reason, replayed, ...record }));
      continue;
    }
    const kind = [record.retriable ? 'retriable' : 'bad record', record.original_encoding === 'base64' ? 'base64' : '', record.truncated ? 'truncated' : '']
      .filter(Boolean)
      .join(', ');
    const sentBack = replayed ? `\n    replayed: ${replayed.replayed_at} → ${replayed.replayed_to.topic}[${replayed.replayed_to.partition}]@${replayed.replayed_to.offset}` : '';
    console.log(
      `${letterName(letter)}  from ${record.topic}[${record.partition}]@${record.offset} by ${record.group} #${record.instance_id} at ${record.timestamp} (${kind})\n` +
        `    error:    ${record.error}\n    original: ${record.original_message}${sentBack}`,
    );
  }
  if (repeats > 0) (opts.json ? console.warn : console.log)(repeatsNote(repeats, 'not shown'));
}

async function replayCommand(kafka: Kafka, admin: Admin, opts: Common & { dryRun?: boolean }): Promise<void> {
  const { topics, since } = scope(opts);
  const selection = selectionOf(opts, topics);
  if (!opts.offset && opts.reason === undefined && !opts.retriable) {
    throw new Error('choose the letters to replay with --offset, --reason or --retriable (see `npm run dlq` for the reasons)');
  }
  // The topic of the markers exists before anything is sent (services started before it was added lack it).
  if (!opts.dryRun) await ensureTopics(admin, Number(process.env.TOPIC_PARTITIONS || 3));
  const letters = choose(await readLetters(kafka, admin, topics, { since }), selection);
  if (letters.length === 0) {
    console.log(`no dead letters in ${topics.join(', ')} match: nothing to replay`);
    return;
  }
  const report = await replay(kafka, admin, letters, { dryRun: Boolean(opts.dryRun), print: (line) => console.log(line) });
  const verb = opts.dryRun ? 'would be sent' : 'sent';
  if (report.repeats > 0) console.log(repeatsNote(report.repeats, `left out: each record ${opts.dryRun ? 'would be' : 'is'} sent once`));
  console.log(`${report.sent} record(s) ${verb}, ${report.done} letter(s) already replayed, ${report.refused} refused`);
  if (report.refused > 0) process.exitCode = 1;
}

function scope(opts: Common): { topics: string[]; since?: Date } {
  const all: string[] = Object.values(DLQ_TOPICS);
  if (opts.topic !== undefined && !all.includes(opts.topic)) throw new Error(`--topic ${opts.topic}: not a DLQ topic (${all.join(', ')})`);
  return { topics: opts.topic ? [opts.topic] : all, since: opts.since === undefined ? undefined : parseSince(opts.since) };
}

function selectionOf(opts: Common, topics: string[]): Selection {
  if (opts.offset !== undefined && topics.length > 1) throw new Error('--offset needs --topic: each DLQ topic has its own offsets');
  return {
    offsets: opts.offset === undefined ? undefined : parseOffsets(opts.offset),
    partition: opts.partition,
    reason: opts.reason,
    retriable: opts.retriable,
  };
}

function choose(letters: Letter[], selection: Selection): Letter[] {
  if (selection.offsets && selection.partition === undefined && new Set(letters.map((l) => l.partition)).size > 1) {
    throw new Error('--offset: this DLQ topic has several partitions; say which with --partition');
  }
  return letters.filter((letter) => selects(selection, letter));
}

/** Says how many letters were folded into the first of their record and group, so the counts read true. */
function repeatsNote(repeats: number, outcome: string): string {
  return `${repeats} repeated letter(s) (the same record and group, written again after a redelivery) ${outcome}`;
}

async function run(work: (kafka: Kafka, admin: Admin) => Promise<void>): Promise<void> {
  const kafka = toolKafka('dlq-cli');
  const admin = kafka.admin();
  try {
    await admin.connect();
    await work(kafka, admin);
  } catch (error) {
    console.error(`dlq: ${(error as Error).message}`);
    process.exitCode = 1;
  } finally {
    await admin.disconnect();
  }
}

void program.parseAsync();
