import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../../scripts/lib/services';
import { scriptArgs } from './scripts';

/**
 * The local broker's CLI (scripts/kafka.ts, as `npm run kafka:up` runs it) with a suite's own environment (its
 * KAFKA_BROKERS and KAFKA_STATE_DIR): its exit status and output.
 */
export function kafkaCli(env: NodeJS.ProcessEnv, args: string[]): { status: number | null; stdout: string } {
  const result = spawnSync(...scriptArgs('kafka', args), { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 180_000 });
  return { status: result.status, stdout: `${result.stdout}${result.stderr}` };
}

/** The same, failing with the CLI's output unless it succeeds. */
export function kafkaCliOk(env: NodeJS.ProcessEnv, ...args: string[]): void {
  const result = kafkaCli(env, args);
  if (result.status !== 0) throw new Error(`kafka ${args.join(' ')} failed:\n${result.stdout}`);
}
