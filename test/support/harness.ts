import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceProcess, type LogSink } from '../../scripts/lib/services';

export interface ServiceView {
  label: string;
  pid: number | undefined;
  running: boolean;
  url: string;
}

/**
 * The test chain runs in jest's global setup, out of reach of the suites' sandboxes. This small HTTP API
 * lets a suite stop (SIGTERM or SIGKILL) and restart one of its processes, and read its log, as an
 * operator would: `E2E_HARNESS_URL` tells the suites where it listens.
 */
export async function startHarness(chain: ServiceProcess[], env: NodeJS.ProcessEnv, sink?: LogSink): Promise<Server> {
  const find = (label: string) => {
    const index = chain.findIndex((p) => p.spec.label === label);
    if (index < 0) throw Object.assign(new Error(`no service ${label}`), { status: 404 });
    return index;
  };
  const view = (p: ServiceProcess): ServiceView => ({ label: p.spec.label, pid: p.child.pid, running: p.running, url: p.url });

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://harness');
    const [, resource, label, action] = url.pathname.split('/');
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const handle = async (): Promise<unknown> => {
      if (resource !== 'services') throw Object.assign(new Error('not found'), { status: 404 });
      if (!label && request.method === 'GET') return chain.map(view);
      const index = find(label);
      const service = chain[index];
      if (request.method === 'GET' && action === 'logs') return { lines: service.logs() };
      if (request.method === 'POST' && action === 'stop') {
        const signal = (url.searchParams.get('signal') ?? 'SIGTERM') as NodeJS.Signals;
        const stoppedAt = Date.now();
        await service.stop(signal);
        return { ...view(service), signal, stopped_at: stoppedAt, exit_code: service.exitCode, exit_signal: service.exitSignal };
      }
      if (request.method === 'POST' && action === 'signal') {
        // A signal that need not end the process (SIGSTOP, SIGCONT): sent, not waited on.
        service.child.kill((url.searchParams.get('signal') ?? 'SIGCONT') as NodeJS.Signals);
        return view(service);
      }
      if (request.method === 'POST' && action === 'start') {
        if (service.running) return view(service);
        chain[index] = ServiceProcess.start(service.spec, env, sink);
        await chain[index].waitHealthy();
        return view(chain[index]);
      }
      throw Object.assign(new Error(`cannot ${request.method} ${url.pathname}`), { status: 405 });
    };
    handle().then(
      (body) => reply(200, body),
      (error: Error & { status?: number }) => reply(error.status ?? 500, { message: error.message }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.env.E2E_HARNESS_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return server;
}
