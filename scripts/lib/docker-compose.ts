import { spawnSync } from 'node:child_process';

/**
 * The compose file is checked with Debian's docker-compose (its `config` needs no Docker engine). When it is
 * missing, `npm test` installs it, as the project's own files must bring what the project needs.
 */
export function ensureDockerCompose(): void {
  if (spawnSync('docker-compose', ['version', '--short'], { stdio: 'ignore' }).status === 0) return;
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!canInstall) {
    throw new Error('docker-compose is needed to check docker/docker-compose.yml: install it (Debian: apt-get install docker-compose)');
  }
  console.log('[test] installing docker-compose from Debian to check the compose file');
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', 'docker-compose']]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
}
