import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, SERVICE_NAMES, type ServiceSpec } from './services';
import { waitFor } from './wait';

/** The project's Prometheus configuration: prometheus.yml, its alert rules and, for Docker, its targets. */
export const PROMETHEUS_CONFIG_DIR = join(REPO_ROOT, 'docker/prometheus');

/** One group of prometheus.yml's file_sd targets: the instances of one service, labelled with its name. */
export interface ScrapeTargetGroup {
  targets: string[];
  labels: { service: string };
}

/** The chain's /metrics endpoints as file_sd target groups, one per service, reached at `host`. */
export function scrapeTargets(host: string, specs: ServiceSpec[]): ScrapeTargetGroup[] {
  return SERVICE_NAMES.map((service) => ({
    targets: specs.filter((s) => s.service === service).map((s) => `${host}:${s.port}`),
    labels: { service },
  })).filter((group) => group.targets.length > 0);
}

/**
 * Copies the project's configuration into `dir` (rules included) and writes beside it the targets of the
 * chain to scrape, so that Prometheus runs on exactly the files Docker mounts, with other targets.
 */
export function writeLocalConfig(dir: string, targets: ScrapeTargetGroup[]): string {
  const config = join(dir, 'config');
  mkdirSync(join(config, 'targets'), { recursive: true });
  for (const file of ['prometheus.yml', 'alerts.yml']) cpSync(join(PROMETHEUS_CONFIG_DIR, file), join(config, file));
  writeFileSync(join(config, 'targets', 'services.json'), `${JSON.stringify(targets, null, 2)}\n`);
  return join(config, 'prometheus.yml');
}

export interface LocalPrometheusOptions {
  /** Holds the configuration it runs on and its data. */
  dir: string;
  port: number;
  targets: ScrapeTargetGroup[];
  /** Prometheus' own log lines (it writes them to stderr). */
  log?: (line: string) => void;
}

/** Debian's prometheus (package `prometheus`) on the project's configuration, listening on 127.0.0.1 only. */
export class LocalPrometheus {
  readonly url: string;
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    child.once('exit', () => (this.exited = true));
  }

  static async start(options: LocalPrometheusOptions): Promise<LocalPrometheus> {
    const configFile = writeLocalConfig(options.dir, options.targets);
    const child = spawn(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(options.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${options.port}`,
        // Lets `curl -X POST …/-/reload` take a changed targets file or rule without a restart.
        '--web.enable-lifecycle',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => chunk.toString().split('\n').filter(Boolean).forEach((l) => options.log?.(l)));
    const prometheus = new LocalPrometheus(child, options.port);
    child.once('error', () => (prometheus.exited = true));
    await waitFor(
      async () => {
        if (prometheus.exited) throw new Error(`prometheus exited (code ${child.exitCode}); is port ${options.port} free?`);
        return (await fetch(`${prometheus.url}/-/ready`)).ok;
      },
      { timeoutMs: 30_000, what: `Prometheus ready at ${prometheus.url}` },
    ).catch(async (error: unknown) => {
      await prometheus.stop();
      throw error;
    });
    return prometheus;
  }

  /** One of Prometheus' HTTP API answers (`/api/v1/…`), failing on an error status. */
  async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const response = await fetch(`${this.url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exit = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exit;
  }
}
