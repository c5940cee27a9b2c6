import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/**
 * Whether the pid is a live Kafka broker. kill(pid, 0) alone is not enough: the pid may have been reused, and a
 * broker killed after its parent exited stays a zombie when PID 1 does not reap orphans (as in some containers).
 */
export function isBrokerProcess(pid: number): boolean {
  const procDir = `/proc/${pid}`;
  if (fs.existsSync('/proc/self')) {
    try {
      const stat = fs.readFileSync(`${procDir}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') return false;
      return fs.readFileSync(`${procDir}/cmdline`, 'utf8').includes('kafka.Kafka');
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process may exit between our check and the signal: ESRCH then means the job is done. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isBrokerProcess(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(200);
  }
  return true;
}
