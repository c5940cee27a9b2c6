import { spawnSync } from 'node:child_process';
import { REPO_ROOT, SERVICE_NAMES } from './services';

/** Builds the four services into dist/ with the Nest CLI (webpack, one bundle per service). */
export function buildServices(): void {
  const started = Date.now();
  const result = spawnSync('npx', ['nest', 'build', ...SERVICE_NAMES], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    throw new Error('nest build failed');
  }
  console.log(`built ${SERVICE_NAMES.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
