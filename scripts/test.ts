import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { SHORT_LIVED_BROKER_JVM_OPTIONS, startLocalBroker, stopLocalBroker } from './lib/kafka-local';
import { buildServices } from './lib/build';
import { ensureTestTools } from './lib/debian-tools';
import { databaseUrlFromEnv, requirePostgres } from './lib/postgres';
import { REPO_ROOT } from './lib/services';

/**
 * `npm test`: type check, build, then jest (unit specs and end-to-end suites) against the real broker and
 * database. A broker is started if none answers, and stopped afterwards only if this run started it.
 * The suites that bring their own broker or cluster (test/own-broker) run in a second jest beside the first:
 * they share nothing with it but the build, and mostly wait on brokers starting and stopping. The unit specs
 * run in that second jest too, which finishes first: the shared chain's suites are the longer path.
 * Extra arguments go to a single jest instead (`npm test -- test/chain.e2e-spec.ts`).
 */
async function main(): Promise<number> {
  const began = Date.now();
  await requirePostgres(databaseUrlFromEnv());
  ensureTestTools();
  // Every broker of the run (the chain's, and those the suites start) lives minutes, not days: C1 alone
  // compiles it, which halves the CPU a broker takes to start, on a machine the suites already fill.
  process.env.KAFKA_JVM_PERFORMANCE_OPTS ??= SHORT_LIVED_BROKER_JVM_OPTIONS;
  // The type check, the build and the broker's start side by side: each mostly waits on one core.
  const [checked, built, starting] = await Promise.allSettled([
    timed('type check', runAsync(['tsc', '--noEmit', '-p', 'tsconfig.json'])),
    buildServices({ whenStale: true }),
    startLocalBroker(),
  ]);
  const broker = starting.status === 'fulfilled' ? starting.value : { started: false };
  const failures = [checked, built, starting].flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  for (const failure of failures) console.error(`[test] ${failure}`);
  if (failures.length > 0 || (checked.status === 'fulfilled' && checked.value !== 0)) {
    if (broker.started) await stopLocalBroker();
    return 1;
  }
  try {
    const extra = process.argv.slice(2);
    if (extra.length > 0) return run('npx', ['jest', '--runInBand', ...extra]);
    const [shared, own] = await Promise.all([
      runAsync(['jest', '--runInBand', '--selectProjects', 'e2e']),
      runAsync(['jest', '--runInBand', '--selectProjects', 'unit', 'own-broker'], '[beside] '),
    ]);
    if (own !== 0) console.error('[test] the unit specs or the suites with their own broker (lines marked [beside]) failed');
    return shared !== 0 ? shared : own;
  } finally {
    if (broker.started) await stopLocalBroker();
    console.log(`[test] done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  }
}

function run(command: string, args: string[]): number {
  return spawnSync(command, args, { cwd: REPO_ROOT, stdio: 'inherit' }).status ?? 1;
}

/** Runs npx with these arguments; with a prefix, its output comes line by line behind it. */
async function runAsync(args: string[], prefix?: string): Promise<number> {
  const child = spawn('npx', args, { cwd: REPO_ROOT, stdio: prefix ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
  if (prefix) {
    for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
      createInterface({ input: stream! }).on('line', (line) => out.write(`${prefix}${line}\n`));
    }
  }
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}

/** Reports how long a step took, and whether it passed. */
async function timed(name: string, work: Promise<number>): Promise<number> {
  const began = Date.now();
  const status = await work;
  if (status !== 0) console.error(`[test] ${name} failed`);
  else console.log(`[test] ${name} passed in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return status;
}

main().then(
  (status) => process.exit(status),
  (error: Error) => {
    console.error(`[test] ${error.message}`);
    process.exit(1);
  },
);
