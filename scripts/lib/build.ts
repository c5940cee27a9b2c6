import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, SERVICE_NAMES } from './services';

/** What a build reads: the services' and libraries' sources and assets, and the configuration around them. */
const BUILD_INPUTS = ['apps', 'libs', 'nest-cli.json', 'tsconfig.json', 'package-lock.json'];

/**
 * Builds the four services into dist/ with the Nest CLI (webpack, one bundle per service). With `whenStale`,
 * only when a source or the configuration changed since the last build, as make would: `npm start` run again
 * starts without waiting on webpack.
 */
export async function buildServices(options: { whenStale?: boolean } = {}): Promise<void> {
  if (options.whenStale && !stale()) {
    console.log(`${SERVICE_NAMES.join(', ')} built already: nothing they are built from changed since`);
    return;
  }
  const started = Date.now();
  const child = spawn('npx', ['nest', 'build', ...SERVICE_NAMES], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) {
    process.stderr.write(output);
    throw new Error('nest build failed');
  }
  // Dated when the build began: a source saved while webpack ran is newer, and makes the next run build again.
  const stamp = stampPath(REPO_ROOT);
  writeFileSync(stamp, `${SERVICE_NAMES.join(' ')}\n`);
  utimesSync(stamp, started / 1000, started / 1000);
  console.log(`built ${SERVICE_NAMES.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * When the last build began. Not the bundles' own times: webpack leaves a bundle whose content did not change
 * unwritten, so an untouched service keeps an old one.
 */
function stampPath(root: string): string {
  return join(root, 'dist', '.built');
}

/** Whether a bundle is missing, or anything a build reads changed since the last build began. */
export function stale(root = REPO_ROOT): boolean {
  const bundles = SERVICE_NAMES.map((name) => join(root, 'dist', 'apps', name, 'main.js'));
  if (!existsSync(stampPath(root)) || !bundles.every((bundle) => existsSync(bundle))) return true;
  const builtAt = statSync(stampPath(root)).mtimeMs;
  return BUILD_INPUTS.some((input) => newestChange(join(root, input)) >= builtAt);
}

function newestChange(path: string): number {
  if (!existsSync(path)) return 0;
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  // A directory's own time changes when a file in it is added, removed or renamed.
  return readdirSync(path).reduce((newest, entry) => Math.max(newest, newestChange(join(path, entry))), stats.mtimeMs);
}
