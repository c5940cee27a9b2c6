import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from './wait';

export const REPO_ROOT = resolve(__dirname, '../..');
export const SERVICE_NAMES = ['payment', 'order', 'email', 'analytics'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceSpec {
  service: ServiceName;
  /** Shown before each log line: `payment`, `order-2`. */
  label: string;
  port: number;
  env?: Record<string, string>;
  /** Extra arguments for node itself, e.g. `--prof` to profile a service under load. */
  nodeArgs?: string[];
}

/** The chain DESIGN.md describes: payment, three order instances, email, analytics. */
export function chainSpecs(portOffset = 0, orderInstances = 3): ServiceSpec[] {
  const orderPorts = [8001, 8004, 8005, 8006, 8007, 8008, 8009].slice(0, orderInstances);
  return [
    { service: 'payment', label: 'payment', port: 8000 + portOffset },
    ...orderPorts.map((port, i) => ({
      service: 'order' as const,
      label: `order-${i + 1}`,
      port: port + portOffset,
      env: { INSTANCE_ID: String(i + 1) },
    })),
    { service: 'email', label: 'email', port: 8002 + portOffset },
    { service: 'analytics', label: 'analytics', port: 8003 + portOffset },
  ];
}

export type LogSink = (label: string, line: string) => void;

const RECENT_LINES = 20_000;

/** One service process, started from the build in dist/ (`npm run build`). */
export class ServiceProcess {
  readonly url: string;
  /** The latest lines of output, enough for a test to read back a burst's per-record log lines. */
  private readonly recent: string[] = [];
  private exit: Promise<void>;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;

  private constructor(
    readonly spec: ServiceSpec,
    readonly child: ChildProcess,
    sink: LogSink | undefined,
  ) {
    this.url = `http://127.0.0.1:${spec.port}`;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.recent.push(line);
        if (this.recent.length > RECENT_LINES) this.recent.shift();
        sink?.(spec.label, line);
      });
    }
    this.exit = once(child, 'exit').then(([code, signal]) => {
      this.exitCode = code as number | null;
      this.exitSignal = signal as NodeJS.Signals | null;
    });
  }

  static start(spec: ServiceSpec, baseEnv: NodeJS.ProcessEnv, sink?: LogSink): ServiceProcess {
    const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), resolve(REPO_ROOT, 'dist/apps', spec.service, 'main.js')], {
      cwd: REPO_ROOT,
      env: { ...baseEnv, PORT: String(spec.port), ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServiceProcess(spec, child, sink);
  }

  get running(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** The last lines the process printed, for error messages. */
  logTail(lines = 30): string {
    return this.recent.slice(-lines).join('\n');
  }

  /** The lines as printed: JSON log lines (pino), and anything else the process wrote. */
  logs(): string[] {
    return [...this.recent];
  }

  /** The message of each line (`msg` and, for an error, its stack), or the line itself when it is not JSON. */
  messages(): string[] {
    return this.recent.map(messageOf);
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    try {
      await waitFor(
        async () => {
          if (!this.running) throw new Error(`exited with ${this.exitSignal ?? this.exitCode}`);
          const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(3000) });
          return response.ok;
        },
        { timeoutMs, intervalMs: 250, what: `${this.spec.label} to answer /health with 200` },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- last lines of ${this.spec.label} ---\n${this.logTail()}`);
    }
  }

  /** SIGTERM and wait; SIGKILL if it has not exited within `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }
}

/**
 * Starts services together and waits until every one is healthy and every consumer group has settled; stops
 * them all if one fails.
 */
export async function startServices(specs: ServiceSpec[], baseEnv: NodeJS.ProcessEnv, sink?: LogSink): Promise<ServiceProcess[]> {
  const processes = specs.map((spec) => ServiceProcess.start(spec, baseEnv, sink));
  try {
    await Promise.all(processes.map((p) => p.waitHealthy()));
    await waitGroupsSettled(processes);
    return processes;
  } catch (error) {
    await stopServices(processes);
    throw error;
  }
}

export async function stopServices(processes: ServiceProcess[]): Promise<void> {
  await Promise.all(processes.map((p) => p.stop()));
}

interface ConsumerHealth {
  consumer?: string;
  assignments?: Record<string, number[]>;
}

/**
 * A service is healthy as soon as its consumer has joined once, but instances of one service joining one
 * after another rebalance their group for a second or two more, and a payment sent meanwhile waits for it.
 * Settled means: every consumer is joined (not rebalancing) and no partition is claimed by two instances
 * of a service, which a member still holding the assignment of an earlier generation would do.
 */
export async function waitGroupsSettled(processes: ServiceProcess[], timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const claims = new Map<string, string>();
      for (const service of processes) {
        const response = await fetch(`${service.url}/health`, { signal: AbortSignal.timeout(3000) });
        const kafka = ((await response.json()) as { details?: { kafka?: ConsumerHealth } }).details?.kafka;
        if (kafka?.consumer === undefined) continue; // payment consumes nothing
        if (!response.ok || kafka.consumer !== 'joined') return false;
        for (const [topic, partitions] of Object.entries(kafka.assignments ?? {})) {
          for (const partition of partitions) {
            const claim = `${service.spec.service} ${topic}[${partition}]`;
            if (claims.has(claim)) return false;
            claims.set(claim, service.spec.label);
          }
        }
      }
      return true;
    },
    { timeoutMs, intervalMs: 100, what: 'every consumer group to settle (all members joined, each partition owned once)' },
  );
}

function messageOf(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const { msg, err } = JSON.parse(line) as { msg?: unknown; err?: { stack?: unknown } };
    return [typeof msg === 'string' ? msg : line, typeof err?.stack === 'string' ? err.stack : ''].filter(Boolean).join('\n');
  } catch {
    return line;
  }
}
