import { spawnSync } from 'node:child_process';

/** Commands the tests run, and the Debian package of each. */
const TOOLS = [
  // Checks docker/docker-compose.yml: its `config` needs no Docker engine.
  { command: 'docker-compose', probe: ['version', '--short'], pkg: 'docker-compose' },
  // librdkafka's client, to write records as Java, Go and librdkafka clients do (snappy, lz4, zstd batches).
  { command: 'kcat', probe: ['-V'], pkg: 'kcat' },
];

/**
 * Installs what the tests need from Debian when it is missing, as the project's own files must bring what
 * the project needs.
 */
export function ensureTestTools(): void {
  const missing = TOOLS.filter(({ command, probe }) => spawnSync(command, probe, { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return;
  const names = missing.map((t) => t.pkg);
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!canInstall) throw new Error(`the tests need ${names.join(' and ')}: install them (Debian: apt-get install ${names.join(' ')})`);
  console.log(`[test] installing ${names.join(', ')} from Debian`);
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', ...names]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
}
