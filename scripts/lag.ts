import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import type { Admin } from 'kafkajs';
import { GROUP_TOPICS } from '@app/contracts';
import { describeLag, totalLag, type PartitionLag } from '@app/kafka';
import { toolKafka } from './lib/kafka-local';
import { positiveInt, positiveNumber } from './lib/cli-args';

/**
 * `npm run lag`: committed offset, end offset, lag and owner of every partition the chain's consumer groups
 * read, as `kafka-consumer-groups --describe` shows them. `--watch` follows the lag until it reaches 0.
 * It only reads: no group is joined, no offset moves.
 */

interface CliOptions {
  group?: string;
  json?: boolean;
  watch?: boolean;
  interval: number;
  timeout?: number;
}

interface GroupLag {
  group: string;
  lag: number;
  partitions: PartitionLag[];
}

interface Report {
  groups: GroupLag[];
  total: number;
}



const program = new Command('lag')
  .description('Lag of the chain\'s consumer groups per topic and partition, with the member owning each partition.')
  .option('-g, --group <group>', `one group: ${Object.keys(GROUP_TOPICS).join(', ')}`)
  .option('--json', 'JSON instead of the table (one line per look with --watch; messages go to stderr)')
  .option('-w, --watch', 'look again every --interval until the total lag is 0 (exit 0)')
  .option('-i, --interval <ms>', 'with --watch: milliseconds between looks', positiveInt, 1000)
  .option('-t, --timeout <s>', 'with --watch: give up after s seconds (exit 1)', positiveNumber)
  .addHelpText('after', '\nThe broker is KAFKA_BROKERS (default 127.0.0.1:9092).')
  .parse();

async function look(admin: Admin, groups: Record<string, string[]>): Promise<Report> {
  const rows = await describeLag(admin, groups);
  const perGroup = Object.entries(groups).map(([group, topics]) => {
    // The broker lists a topic's partitions in no particular order; the table reads better sorted.
    const partitions = rows
      .filter((row) => row.group === group)
      .sort((a, b) => topics.indexOf(a.topic) - topics.indexOf(b.topic) || a.partition - b.partition);
    return { group, lag: totalLag(partitions), partitions };
  });
  return { groups: perGroup, total: totalLag(rows) };
}

const COLUMNS = ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'OWNER'];

/** The table of `kafka-consumer-groups --describe`: a total row under each group, a blank line between groups. */
function table(report: Report): string {
  const blocks = report.groups.map(({ group, lag, partitions }) => [
    ...partitions.map((p) => [group, p.topic, String(p.partition), p.committed ?? '-', p.end, String(p.lag), p.owner ?? '-']),
    [group, '(total)', '', '', '', String(lag), ''],
  ]);
  const widths = COLUMNS.map((column, i) => Math.max(column.length, ...blocks.flat().map((cells) => cells[i].length)));
  const render = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  const body = blocks.map((rows) => rows.map(render).join('\n')).join('\n\n');
  return `${render(COLUMNS)}\n${body}\n\ntotal lag ${report.total}`;
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

async function main(): Promise<number> {
  const options = program.opts<CliOptions>();
  if (options.group !== undefined && !(options.group in GROUP_TOPICS)) {
    throw new Error(`unknown group "${options.group}": the chain's groups are ${Object.keys(GROUP_TOPICS).join(', ')}`);
  }
  const groups = options.group === undefined ? GROUP_TOPICS : { [options.group]: GROUP_TOPICS[options.group] };
  // With --json, stdout carries JSON only; what is said to a person goes to stderr.
  const say = options.json ? console.error : console.log;
  const show = (report: Report) => console.log(options.json ? JSON.stringify(report) : table(report));

  const admin = toolKafka('lag-cli').admin();
  await admin.connect();
  try {
    if (!options.watch) {
      show(await look(admin, groups));
      return 0;
    }
    const started = performance.now();
    const deadline = options.timeout === undefined ? Infinity : started + options.timeout * 1000;
    // On a terminal the table is redrawn in place; in a log every look is appended under a time stamp.
    const redraw = process.stdout.isTTY === true && !options.json;
    for (let first = true; ; first = false) {
      const lookStarted = performance.now();
      try {
        const report = await look(admin, groups);
        if (redraw) console.clear();
        if (!options.json) say(`${new Date().toISOString()}  ${seconds(started)} watching, every ${options.interval} ms`);
        show(report);
        if (report.total === 0) {
          say(first ? 'lag is already 0' : `lag reached 0 after ${seconds(started)}`);
          return 0;
        }
      } catch (error) {
        // A look can fail while the broker moves a group coordinator; the next one usually succeeds.
        say(`lag: this look failed (${(error as Error).message}); trying again`);
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        say(`lag did not reach 0 within ${options.timeout} s`);
        return 1;
      }
      // The interval runs from the start of a look, so a slow broker does not stretch the period.
      await sleep(Math.min(Math.max(0, options.interval - (performance.now() - lookStarted)), left));
    }
  } finally {
    await admin.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`lag: ${error.message}`);
    process.exit(1);
  },
);
