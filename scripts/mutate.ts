import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { MUTANTS, type Mutant } from './lib/mutants';
import { REPO_ROOT } from './lib/services';

/**
 * `npm run mutate`: each named mutant (scripts/lib/mutants.ts) applied to a scratch copy of the committed tree
 * (a git worktree, sharing node_modules), built, and its suites run with `npm test -- <suites>`; the table says
 * which were caught. Stryker switches mutants inside one process, so it reaches the unit specs but not the
 * services the end-to-end suites start as processes: this builds each mutant whole. A tool, not part of npm test.
 */
const program = new Command('mutate')
  .option('--only <text>', 'only the mutants whose name contains this text')
  .option('--list', 'print the mutants and exit')
  .parse();

type Outcome = 'caught' | 'survived' | 'invalid';

/** Each mutant's test output. */
const LOGS = join(REPO_ROOT, '.logs', 'mutate');

async function main(): Promise<number> {
  const opts = program.opts<{ only?: string; list?: boolean }>();
  const chosen = MUTANTS.filter((m) => opts.only === undefined || m.name.includes(opts.only));
  if (opts.list) {
    for (const m of chosen) console.log(`${m.name}: ${m.file} (${m.suites.join(', ')})`);
    return 0;
  }
  const rows: Array<{ mutant: Mutant; outcome: Outcome; seconds: number }> = [];
  for (const mutant of chosen) {
    const began = Date.now();
    const outcome = await runMutant(mutant);
    rows.push({ mutant, outcome, seconds: Math.round((Date.now() - began) / 1000) });
    console.log(`[mutate] ${mutant.name}: ${outcome} in ${rows.at(-1)!.seconds} s`);
  }
  console.log('\n| mutant | what a user would lose | suites | outcome |\n|---|---|---|---|');
  for (const { mutant, outcome } of rows) console.log(`| ${mutant.name} | ${mutant.loss} | ${mutant.suites.join(', ')} | ${outcome} |`);
  const survived = rows.filter((r) => r.outcome !== 'caught').length;
  console.log(`\n${rows.length - survived} of ${rows.length} caught; each run's output is in ${LOGS}`);
  return survived === 0 ? 0 : 1;
}

/** Applies the mutant in a worktree of HEAD, runs its suites there, and removes the worktree. */
async function runMutant(mutant: Mutant): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'mutant-'));
  git(['worktree', 'add', '--detach', dir, 'HEAD']);
  try {
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    const file = join(dir, mutant.file);
    const text = readFileSync(file, 'utf8');
    const found = text.split(mutant.find).length - 1;
    if (found !== 1) throw new Error(`${mutant.name}: "${mutant.find}" found ${found} times in ${mutant.file}, not once`);
    writeFileSync(file, text.replace(mutant.find, () => mutant.replace));
    const child = spawn('npm', ['test', '--', ...mutant.suites], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    // Kept, so that a caught mutant can be checked to fail for its own reason, not a flake.
    mkdirSync(LOGS, { recursive: true });
    writeFileSync(join(LOGS, `${mutant.name.replace(/[^a-z0-9]+/gi, '-')}.log`), output);
    if (/\[test\] (type check|build) failed/.test(output)) return 'invalid';
    return code === 0 ? 'survived' : 'caught';
  } finally {
    git(['worktree', 'remove', '--force', dir]);
    if (existsSync(dir)) spawnSync('rm', ['-rf', dir]);
  }
}

function git(args: string[]): void {
  const result = spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr.trim()}`);
}

main().then(
  (status) => process.exit(status),
  (error: Error) => {
    console.error(`mutate: ${error.message}`);
    process.exit(1);
  },
);
