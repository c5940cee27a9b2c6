import { spawn } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { REPO_ROOT } from '../lib/services';
import { waitFor } from '../lib/wait';
import type { BenchContext } from './context';

export interface HttpFigures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export interface HttpResult {
  connections: number;
  seconds: number;
  payment: HttpFigures;
  bare: HttpFigures;
  ratio: number;
}

const BODY = JSON.stringify({ user_id: 42, cart: [{ name: 'MacBook', price: 1999, quantity: 1 }] });
const BARE_PORT = 28090;

async function load(url: string, connections: number, seconds: number): Promise<HttpFigures> {
  const result = await autocannon({
    url: `${url}/payment`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    connections,
    duration: seconds,
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/**
 * `POST /payment` under autocannon beside the bare endpoint, in the same run, each warmed up first: the
 * payment service validates the cart and waits for the broker's acknowledgement of every payment.
 */
export async function httpExperiment(context: BenchContext, connections: number, seconds: number): Promise<HttpResult> {
  await context.reset(3);
  const [payment] = await context.start([{ service: 'payment', label: 'payment', port: 8000 }]);
  const bare = spawn(process.execPath, ['--require', 'tsx/cjs', join(REPO_ROOT, 'scripts/bench/bare-endpoint.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(BARE_PORT) },
    stdio: 'inherit',
  });
  const bareUrl = `http://127.0.0.1:${BARE_PORT}`;
  try {
    await waitFor(async () => (await fetch(`${bareUrl}/payment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY })).status === 200, {
      timeoutMs: 30_000,
      what: 'the bare endpoint to answer',
    });
    await load(bareUrl, connections, 3);
    await load(payment.url, connections, 3);
    const bareFigures = await load(bareUrl, connections, seconds);
    const paymentFigures = await load(payment.url, connections, seconds);
    return {
      connections,
      seconds,
      payment: paymentFigures,
      bare: bareFigures,
      ratio: paymentFigures.requestsPerSecond / bareFigures.requestsPerSecond,
    };
  } finally {
    bare.kill('SIGTERM');
    await context.stopAll();
  }
}
