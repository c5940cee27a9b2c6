import type { ServiceView } from './harness';

/** Client of the harness API (see harness.ts): controls the test chain's processes from a suite. */
async function call<T>(method: 'GET' | 'POST', path: string): Promise<T> {
  const base = process.env.E2E_HARNESS_URL;
  if (!base) throw new Error('E2E_HARNESS_URL is not set: the e2e global setup did not run');
  const response = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(90_000) });
  const body = (await response.json()) as T & { message?: string };
  if (!response.ok) throw new Error(`harness ${method} ${path}: ${body.message}`);
  return body;
}

export interface StoppedService extends ServiceView {
  stopped_at: number;
  exit_code: number | null;
  exit_signal: string | null;
}

export const chainServices = () => call<ServiceView[]>('GET', '/services');
export const stopService = (label: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') =>
  call<StoppedService>('POST', `/services/${label}/stop?signal=${signal}`);
/** Sends a signal that need not end the process: SIGSTOP freezes it (a long GC pause, a stalled VM), SIGCONT thaws it. */
export const signalService = (label: string, signal: 'SIGSTOP' | 'SIGCONT') => call<ServiceView>('POST', `/services/${label}/signal?signal=${signal}`);
/** Starts a stopped service again with the same settings and waits until it is healthy. */
export const startService = (label: string) => call<ServiceView>('POST', `/services/${label}/start`);
/**
 * Waits for every one of these, then fails with the first failure, if any: a failed start or stop never leaves
 * the others running on behind the suite's back (Promise.all would reject at the first).
 */
export async function allSettledOrThrow<T>(work: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Starts these services at once: members of one group then join it together, usually in one rebalance. */
export const startServices = (labels: readonly string[]) => allSettledOrThrow(labels.map((label) => startService(label)));
/** Stops these services at once: members of one group leave it together. */
export const stopServices = (labels: readonly string[], signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') =>
  allSettledOrThrow(labels.map((label) => stopService(label, signal)));
export const serviceLogs = async (label: string) => (await call<{ lines: string[] }>('GET', `/services/${label}/logs`)).lines;
