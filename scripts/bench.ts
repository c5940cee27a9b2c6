// First: the benchmark's own broker and state, before anything reads KAFKA_BROKERS or KAFKA_STATE_DIR.
import './bench/isolate';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { costExperiment } from './bench/cost';
import { courseExperiment } from './bench/course';
import { clusterExperiment } from './bench/cluster';
import { BenchContext } from './bench/context';
import { httpExperiment } from './bench/http';
import { latencyFloor } from './bench/floor';
import { latencyExperiment } from './bench/latency';
import { describeMachine, renderResults, type BenchResults } from './bench/report';
import { takeoverExperiment } from './bench/takeover';
import { throughputExperiment } from './bench/throughput';
import { brokersFromEnv, startLocalBroker, stopLocalBroker } from './lib/kafka-local';
import { buildServices } from './lib/build';
import { databaseUrlFromEnv, queryDatabase, requirePostgres } from './lib/postgres';
import { REPO_ROOT } from './lib/services';

// The cluster runs last: it stops the single broker, so the two never share the machine.
const EXPERIMENTS = ['course', 'takeover', 'http', 'cost', 'latency', 'throughput', 'cluster'] as const;
type Experiment = (typeof EXPERIMENTS)[number];

/**
 * `npm run bench`: every figure of bench/RESULTS.md, measured in one run on a broker, database and ports of
 * the benchmark's own. Prints the table and writes it (unless --only picks a subset, when it only prints).
 */
const program = new Command('bench')
  .option('--only <list>', `comma-separated subset of ${EXPERIMENTS.join(',')}`)
  .option('--count <n>', 'payments of the throughput burst', (v) => Number.parseInt(v, 10), 100_000)
  .option('--http-seconds <s>', 'duration of each autocannon run', (v) => Number.parseInt(v, 10), 30)
  .option('--latency-seconds <s>', 'duration of the steady-rate run', (v) => Number.parseInt(v, 10), 20)
  .option('--latency-rate <r>', 'payments per second of the steady-rate run', (v) => Number.parseInt(v, 10), 200)
  .parse();

async function main(): Promise<void> {
  const options = program.opts<{ only?: string; count: number; httpSeconds: number; latencySeconds: number; latencyRate: number }>();
  const only = options.only?.split(',');
  const unknown = only?.filter((e) => !(EXPERIMENTS as readonly string[]).includes(e)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown experiment ${unknown.join(', ')}: choose from ${EXPERIMENTS.join(',')}`);
  const chosen = EXPERIMENTS.filter((e) => only?.includes(e) ?? true);
  const log = (line: string) => console.log(`[bench] ${line}`);
  await requirePostgres(databaseUrlFromEnv());
  const broker = await startLocalBroker();
  log(`broker ${brokersFromEnv().join(',')} (${broker.started ? 'started' : 'already running'})`);
  await buildServices({ whenStale: true });
  const context = await BenchContext.open();
  const results: BenchResults = {};
  const timed = async <T>(experiment: Experiment, work: () => Promise<T>): Promise<T> => {
    const began = Date.now();
    log(`${experiment}…`);
    const result = await work();
    log(`${experiment} done in ${((Date.now() - began) / 1000).toFixed(0)} s: ${JSON.stringify(result)}`);
    return result;
  };
  try {
    if (chosen.includes('course')) results.course = await timed('course', () => courseExperiment(context, 1000, 100));
    if (chosen.includes('takeover')) results.takeover = await timed('takeover', () => takeoverExperiment(context));
    if (chosen.includes('http')) results.http = await timed('http', () => httpExperiment(context, 64, options.httpSeconds));
    if (chosen.includes('cost')) results.cost = await timed('cost', () => costExperiment(context, 1000));
    if (chosen.includes('latency')) {
      results.latency = await timed('latency', () => latencyExperiment(context, options.latencyRate, options.latencySeconds, 'exactly-once'));
      results.latencyAtLeastOnce = await timed('latency', () => latencyExperiment(context, options.latencyRate, options.latencySeconds, 'at-least-once'));
      results.latencyFloor = await timed('latency', () => latencyFloor(context, options.latencyRate, options.latencySeconds, 'exactly-once'));
      results.latencyFloorAtLeastOnce = await timed('latency', () => latencyFloor(context, options.latencyRate, options.latencySeconds, 'at-least-once'));
    }
    if (chosen.includes('throughput')) results.throughput = await timed('throughput', () => throughputExperiment(context, options.count));
    if (chosen.includes('cluster')) {
      await context.close();
      results.cluster = await timed('cluster', () => clusterExperiment(options.count, options.latencyRate, options.latencySeconds));
    }
    const [{ version }] = await queryDatabase<{ version: string }>(context.databaseUrl, "SELECT current_setting('server_version') AS version");
    const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    const table = renderResults(results, describeMachine(`PostgreSQL ${version}`), command, options.latencyRate);
    console.log(`\n${table}`);
    if (!options.only) {
      mkdirSync(join(REPO_ROOT, 'bench'), { recursive: true });
      writeFileSync(join(REPO_ROOT, 'bench/RESULTS.md'), table);
      log('wrote bench/RESULTS.md');
    }
  } finally {
    await context.close();
    // The cluster experiment has stopped it already (stopping twice is harmless).
    if (broker.started) await stopLocalBroker();
  }
}

main().catch((error: Error) => {
  console.error(`[bench] ${error.stack ?? error.message}`);
  process.exit(1);
});
