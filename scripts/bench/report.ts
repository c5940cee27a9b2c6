import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/services';
import type { CourseResult } from './course';
import type { HttpResult } from './http';
import { WARM_UP_SECONDS, type LatencyResult } from './latency';
import type { TakeoverResult } from './takeover';
import type { ThroughputResult } from './throughput';

export interface BenchResults {
  course?: CourseResult;
  throughput?: ThroughputResult;
  http?: HttpResult;
  latency?: LatencyResult;
  takeover?: TakeoverResult;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  kafka: string;
  kafkajs: string;
  nest: string;
  postgres: string;
  date: string;
}

function version(pkg: string): string {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

export function describeMachine(postgres: string): Machine {
  const pom = readFileSync(join(REPO_ROOT, 'kafka/pom.xml'), 'utf8');
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    kafka: pom.match(/<kafka.version>([^<]+)</)?.[1] ?? 'unknown',
    kafkajs: version('kafkajs'),
    nest: version('@nestjs/core'),
    postgres,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

const verdict = (met: boolean) => (met ? '**met**' : '**missed**');
const n = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The table of bench/RESULTS.md: each figure a ratio within this run, or an absolute labelled with the machine. */
export function renderResults(results: BenchResults, machine: Machine, command: string): string {
  const rows: string[] = [];
  const { course, throughput, http, latency, takeover } = results;
  if (course) {
    rows.push(
      `| Course experiment: ${n(course.count)} payments, ${course.delayMs} ms step, drained by 1 instance / 1 partition | ${n(course.oneInstanceSeconds, 1)} s | | |`,
      `| … by 3 instances / 3 partitions | ${n(course.threeInstancesSeconds, 1)} s | | |`,
      `| … speed-up (ratio, same run) | ${n(course.speedup, 2)}x | ≥ 2.8x (ideal 3x) | ${verdict(course.speedup >= 2.8)} |`,
    );
  }
  if (throughput) {
    rows.push(
      `| Ceiling: bare kafkajs consume-and-produce pipe, ${n(throughput.count)} payments | ${n(throughput.ceilingPerSecond)} /s | | |`,
      `| Chain end to end (order ×3, email, analytics), ${n(throughput.count)} payments until every lag is 0 | ${n(throughput.chainPerSecond)} /s | | |`,
      `| … chain / ceiling (ratio, same run) | ${n(throughput.ratio * 100, 1)} % | ≥ 50 % | ${verdict(throughput.ratio >= 0.5)} |`,
      `| … orders / distinct payments / emails / analytics events (payments, orders, emails) | ${n(throughput.counts.orders)} / ${n(throughput.counts.distinctPayments)} / ${n(throughput.counts.emails)} / ${Object.values(throughput.counts.analytics).map((v) => n(v)).join(', ')} | all ${n(throughput.count)}: no loss, no duplicate | ${verdict(throughput.lossless)} |`,
      ...Object.entries(throughput.peakRssMiB).map(([label, mib]) => `| Peak resident memory of ${label} during the burst | ${mib ?? '?'} MiB | | |`),
    );
  }
  if (http) {
    rows.push(
      `| Bare Nest endpoint, autocannon ${http.connections} connections ${http.seconds} s | ${n(http.bare.requestsPerSecond)} req/s, p50 ${http.bare.p50} ms, p99 ${http.bare.p99} ms | | |`,
      `| \`POST /payment\` (validated, acknowledged by the broker) | ${n(http.payment.requestsPerSecond)} req/s, p50 ${http.payment.p50} ms, p99 ${http.payment.p99} ms, ${http.payment.non2xx} non-2xx, ${http.payment.errors} errors | p99 < 50 ms | ${verdict(http.payment.p99 < 50 && http.payment.non2xx === 0)} |`,
      `| … payment / bare rate (ratio, same run) | ${n(http.ratio * 100, 1)} % | ≥ 50 % | ${verdict(http.ratio >= 0.5)} |`,
    );
  }
  if (latency) {
    rows.push(
      `| \`POST /payment\` → \`email-sent\` written, at a steady ${latency.rate}/s (${n(latency.sent)} payments after a ${WARM_UP_SECONDS} s warm-up, ${latency.failed} failed) | p50 ${n(latency.p50, 1)} ms, p99 ${n(latency.p99, 1)} ms, max ${n(latency.max, 1)} ms | p99 < 100 ms | ${verdict(latency.p99 < 100 && latency.failed === 0)} |`,
      `| … until a consumer in the benchmark received it | p50 ${n(latency.received.p50, 1)} ms, p99 ${n(latency.received.p99, 1)} ms | | |`,
    );
  }
  if (takeover) {
    rows.push(
      `| Takeover after SIGTERM of an order instance | ${n(takeover.sigtermSeconds, 2)} s | < 3 s | ${verdict(takeover.sigtermSeconds < 3)} |`,
      `| Takeover after SIGKILL (session timeout 10 s) | ${n(takeover.sigkillSeconds, 2)} s | < 15 s | ${verdict(takeover.sigkillSeconds < 15)} |`,
    );
  }
  const profile = throughput
    ? [
        '',
        `Where the time went during the ${n(throughput.count)}-payment burst (CPU of each process over the burst, and the`,
        "services' own `kafka_handler_duration_seconds`); the machine has " + machine.cores + ' cores:',
        '',
        '| process | CPU seconds | CPU ms per payment | events handled | mean time in handler |',
        '|---|---|---|---|---|',
        ...throughput.profile.map(
          (p) =>
            `| ${p.process} | ${n(p.cpuSeconds, 1)} | ${n((p.cpuSeconds * 1000) / throughput.count, 2)} | ${p.handled ? n(p.handled) : ''} | ${p.meanHandlerMs === null ? '' : `${n(p.meanHandlerMs, 2)} ms`} |`,
        ),
      ]
    : [];
  const steady = latency
    ? [
        '',
        `The steady ${latency.rate}/s run, hop by hop (broker timestamps of each payment's records) and CPU of each process`,
        `over its ${n(latency.wallSeconds, 1)} s (${machine.cores} cores):`,
        '',
        '| hop | p50 | p99 |',
        '|---|---|---|',
        ...latency.stages.map(([name, p50, p99]) => `| ${name} | ${n(p50)} ms | ${n(p99)} ms |`),
        '',
        '| process | CPU seconds | share of one core |',
        '|---|---|---|',
        ...latency.cpu.map(([name, seconds]) => `| ${name} | ${n(seconds, 1)} | ${n((seconds / latency.wallSeconds) * 100)} % |`),
      ]
    : [];
  return [
    '# Benchmark results',
    '',
    `Written by \`${command}\` on ${machine.date}. What each figure means: README, "The benchmark".`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; shared and noisy, so`,
    'targets are judged on ratios measured in the same run where they can be; absolute figures hold for this machine only.',
    `Versions: Node.js ${machine.node}, Kafka ${machine.kafka} (one local KRaft node, 512 MB heap), kafkajs ${machine.kafkajs},`,
    `NestJS ${machine.nest}, ${machine.postgres}.`,
    '',
    '| figure | measured | target | |',
    '|---|---|---|---|',
    ...rows,
    ...profile,
    ...steady,
    '',
  ].join('\n');
}
