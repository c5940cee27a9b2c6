import { spawnSync } from 'node:child_process';

export interface DebianTool {
  command: string;
  /** Arguments that make the command print its version and exit 0. */
  probe: string[];
  pkg: string;
}

/** Prometheus and promtool, to check the alert rules and scrape the chain (`npm run prometheus`). */
export const PROMETHEUS_TOOL: DebianTool = { command: 'promtool', probe: ['--version'], pkg: 'prometheus' };

/** Commands the tests run, and the Debian package of each. */
const TEST_TOOLS: DebianTool[] = [
  // Checks docker/docker-compose.yml: its `config` needs no Docker engine.
  { command: 'docker-compose', probe: ['version', '--short'], pkg: 'docker-compose' },
  // librdkafka's client, to write records as Java, Go and librdkafka clients do (snappy, lz4, zstd batches).
  { command: 'kcat', probe: ['-V'], pkg: 'kcat' },
  PROMETHEUS_TOOL,
  // A real browser for the live page's test, driven by playwright-core (which downloads none).
  { command: 'chromium', probe: ['--version'], pkg: 'chromium' },
];

/**
 * Installs what the tests need from Debian when it is missing, as the project's own files must bring what
 * the project needs.
 */
export function ensureTestTools(): void {
  ensureCommands(TEST_TOOLS);
}

/** Installs the tools' packages from Debian when a command is missing (as root), or says how to. */
export function ensureCommands(tools: DebianTool[]): void {
  const missing = tools.filter(({ command, probe }) => spawnSync(command, probe, { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return;
  const names = missing.map((t) => t.pkg);
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!canInstall) throw new Error(`this needs ${names.join(' and ')}: install them (Debian: apt-get install ${names.join(' ')})`);
  console.log(`installing ${names.join(', ')} from Debian`);
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', ...names]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
}
