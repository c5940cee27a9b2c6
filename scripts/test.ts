import { spawnSync } from 'node:child_process';
import { startLocalBroker, stopLocalBroker } from './lib/kafka-local';
import { buildServices } from './lib/build';
import { ensureTestTools } from './lib/debian-tools';
import { databaseUrlFromEnv, requirePostgres } from './lib/postgres';
import { REPO_ROOT } from './lib/services';

/**
 * `npm test`: type check, build, then jest (unit specs and end-to-end suites) against the real broker and
 * database. A broker is started if none answers, and stopped afterwards only if this run started it.
 * Extra arguments go to jest (`npm test -- test/chain.e2e-spec.ts`).
 */
async function main(): Promise<number> {
  const began = Date.now();
  await requirePostgres(databaseUrlFromEnv());
  ensureTestTools();
  step('type check', () => run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']));
  buildServices();
  const broker = await startLocalBroker();
  try {
    return run('npx', ['jest', '--runInBand', ...process.argv.slice(2)]);
  } finally {
    if (broker.started) await stopLocalBroker();
    console.log(`[test] done in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  }
}

function run(command: string, args: string[]): number {
  return spawnSync(command, args, { cwd: REPO_ROOT, stdio: 'inherit' }).status ?? 1;
}

function step(name: string, work: () => number): void {
  const began = Date.now();
  const status = work();
  if (status !== 0) {
    console.error(`[test] ${name} failed`);
    process.exit(status);
  }
  console.log(`[test] ${name} passed in ${((Date.now() - began) / 1000).toFixed(1)} s`);
}

main().then(
  (status) => process.exit(status),
  (error: Error) => {
    console.error(`[test] ${error.message}`);
    process.exit(1);
  },
);
