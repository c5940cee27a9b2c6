import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/services';
import type { ClusterResult } from './cluster';
import type { CostResult } from './cost';
import type { CourseResult } from './course';
import type { FloorResult } from './floor';
import type { HttpResult } from './http';
import { IDLE_SECONDS, WARM_UP_SECONDS, type LatencyResult } from './latency';
import type { TakeoverResult } from './takeover';
import type { ThroughputResult } from './throughput';

export interface BenchResults {
  course?: CourseResult;
  throughput?: ThroughputResult;
  http?: HttpResult;
  cost?: CostResult;
  /** DELIVERY=exactly-once, the default. */
  latency?: LatencyResult;
  latencyAtLeastOnce?: LatencyResult;
  /** Bare kafkajs pipes wired as the chain, at the same steady rate: the floor under each latency above. */
  latencyFloor?: FloorResult;
  latencyFloorAtLeastOnce?: FloorResult;
  takeover?: TakeoverResult;
  /** The exactly-once burst and steady run again, on three nodes. */
  cluster?: ClusterResult;
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
/** Orders / distinct payments / emails / analytics events of a chain run, as the table shows them. */
const counted = (c: ThroughputResult['counts']) =>
  `${n(c.orders)} / ${n(c.distinctPayments)} / ${n(c.emails)} / ${Object.values(c.analytics).map((v) => n(v)).join(', ')}`;

/** CPU seconds over the idle window as a share of one core. */
const idleShareOfCore = (seconds: number) => `${n((seconds / IDLE_SECONDS) * 100, 1)} %`;

/** What a steady run sent and how many POSTs failed, in the measured run and in the warm-up before it. */
const steadyCounts = (run: LatencyResult) =>
  `${n(run.sent)} payments after a ${WARM_UP_SECONDS} s warm-up, ${run.failed} failed${run.failedInWarmUp > 0 ? `, ${n(run.failedInWarmUp)} in the warm-up` : ''}`;

/** The idle chain's CPU as a share of one core, and its broker's part (when the broker is the benchmark's own). */
function idleShare(run: LatencyResult): string {
  const sum = (rows: Array<[string, number]>) => rows.reduce((total, [, seconds]) => total + seconds, 0);
  const brokers = run.idle.filter(([name]) => name.startsWith('Kafka'));
  return `${idleShareOfCore(sum(run.idle))} of a core${brokers.length > 0 ? `, the broker ${idleShareOfCore(sum(brokers))} of it` : ''}`;
}

/** The table of bench/RESULTS.md: each figure a ratio within this run, or an absolute labelled with the machine. */
export function renderResults(results: BenchResults, machine: Machine, command: string, latencyRate: number): string {
  const rows: string[] = [];
  const { course, throughput, http, cost, latency, latencyAtLeastOnce, latencyFloor, latencyFloorAtLeastOnce, takeover, cluster } = results;
  if (course) {
    rows.push(
      `| Course experiment: ${n(course.count)} payments, ${course.delayMs} ms step, drained by 1 instance / 1 partition | ${n(course.oneInstanceSeconds, 1)} s | | |`,
      `| … by 3 instances / 3 partitions | ${n(course.threeInstancesSeconds, 1)} s | | |`,
      `| … speed-up (ratio, same run) | ${n(course.speedup, 2)}x | ≥ 2.8x (ideal 3x) | ${verdict(course.speedup >= 2.8)} |`,
    );
    const k = course.keyOrder;
    const engine = course.oneInstanceSeconds / k.manyUsers.seconds;
    rows.push(
      `| … by 1 instance / 3 partitions in key order (the default), ${n(k.manyUsers.users)} users; each user's orders in payment order: ${k.manyUsers.orderKept ? 'yes' : 'NO'} | ${n(k.manyUsers.seconds, 2)} s, ${n(engine, 1)}x | < 2 s, > 50x | ${verdict(k.manyUsers.seconds < 2 && engine > 50 && k.manyUsers.orderKept)} |`,
      `| … the same payments over 20 users (at most ${n(k.twentyUsers.ceilingPerSecond)}/s; each step took ${n(k.twentyUsers.stepOverheadMs ?? NaN, 1)} ms beyond its wait); order kept: ${k.twentyUsers.orderKept ? 'yes' : 'NO'} | ${n(k.twentyUsers.perSecond)} /s, ${n((k.twentyUsers.perSecond / k.twentyUsers.ceilingPerSecond) * 100, 1)} % | ≥ 90 % | ${verdict(k.twentyUsers.perSecond >= 0.9 * k.twentyUsers.ceilingPerSecond && k.twentyUsers.orderKept)} |`,
      `| … ${n(k.flood.payments)} payments flooded at once: most records held by the instance at once (high-water mark 2,000 a partition), peak resident memory ${k.flood.peakRssMiB ?? '?'} MiB (${k.flood.idleRssMiB ?? '?'} MiB idle), drained in ${n(k.flood.seconds, 1)} s | ${n(k.flood.peakHeld)} | ≤ 21,000 (3 × (2,000 + a fetch of 1 MB, some 5,000 records)) | ${verdict(k.flood.peakHeld <= 21_000)} |`,
      `| … one user making every tenth payment: the ${n(k.hotKey.others)} others drained in ${n(k.hotKey.othersSeconds, 2)} s (the hot user's in ${n(k.hotKey.hotSeconds, 1)} s), against ${n(k.hotKey.othersAloneSeconds, 2)} s alone (medians of ${k.hotKey.pairs.length} alternating pairs) | ${n(k.hotKey.othersSeconds / k.hotKey.othersAloneSeconds, 2)}x | ≤ 1.10x | ${verdict(k.hotKey.othersSeconds <= 1.1 * k.hotKey.othersAloneSeconds && k.hotKey.orderKept)} |`,
    );
  }
  if (throughput) {
    const t = throughput;
    rows.push(
      `| Ceiling, one hop: bare kafkajs consume-and-produce pipe, ${n(t.count)} payments | ${n(t.ceilingPerSecond)} /s | | |`,
      `| Ceiling of the chain's topology: bare kafkajs pipes payment-successful → order-created → email-sent and a bare consumer of all three, together | ${n(t.topologyPerSecond)} /s | | |`,
      `| Chain end to end (order ×3, email, analytics), exactly once, ${n(t.count)} payments until every lag is 0 | ${n(t.chainPerSecond)} /s | | |`,
      `| … the same, at least once (\`DELIVERY=at-least-once\`) | ${n(t.atLeastOnce.chainPerSecond)} /s | | |`,
      `| … exactly once / at least once (ratio, same run) | ${n(t.exactlyOnceRatio * 100, 1)} % | ≥ 80 % | ${verdict(t.exactlyOnceRatio >= 0.8)} |`,
      `| … chain (exactly once) / ceiling of its topology (ratio, same run) | ${n(t.topologyRatio * 100, 1)} % | ≥ 50 % | ${verdict(t.topologyRatio >= 0.5)} |`,
      `| … chain (exactly once) / one-hop pipe (ratio, same run) | ${n(t.ratio * 100, 1)} % | | |`,
      `| … exactly once: orders / distinct payments / emails / analytics events (payments, orders, emails) | ${counted(t.counts)} | all ${n(t.count)}: no loss, no duplicate | ${verdict(t.lossless)} |`,
      `| … at least once: the same | ${counted(t.atLeastOnce.counts)} | all ${n(t.count)} | ${verdict(t.atLeastOnce.lossless)} |`,
      ...Object.entries(t.peakRssMiB).map(([label, mib]) => `| Peak resident memory of ${label} during the burst (exactly once) | ${mib ?? '?'} MiB | | |`),
    );
  }
  if (http) {
    rows.push(
      `| Bare Nest endpoint, autocannon ${http.connections} connections ${http.seconds} s | ${n(http.bare.requestsPerSecond)} req/s, p50 ${http.bare.p50} ms, p99 ${http.bare.p99} ms | | |`,
      `| \`POST /payment\` (validated, acknowledged by the broker) | ${n(http.payment.requestsPerSecond)} req/s, p50 ${http.payment.p50} ms, p99 ${http.payment.p99} ms, ${http.payment.non2xx} non-2xx, ${http.payment.errors} errors | p99 < 50 ms | ${verdict(http.payment.p99 < 50 && http.payment.non2xx === 0)} |`,
      `| … payment / bare rate (ratio, same run) | ${n(http.ratio * 100, 1)} % | ≥ 50 % | ${verdict(http.ratio >= 0.5)} |`,
    );
  }
  if (cost) {
    const { transaction: t, produce: p } = cost;
    const broker = (ms: number | null) => (ms === null ? 'not measured (not the benchmark\'s broker)' : `${n(ms, 2)} ms`);
    rows.push(
      `| One Kafka transaction as a hop makes it at a trickle (1 event, the consumed offset, commit), ${n(cost.calls)} one after another: CPU, broker (beyond its idle rate) / kafkajs | ${broker(t.brokerMs)} / ${n(t.clientMs, 2)} ms (${n(t.wallMs, 1)} ms each; ${n(t.refusedPerCall, 2)} refusals a transaction, each sent again after a back-off) | | |`,
      `| One acks=all produce request of 1 event, the same way | ${broker(p.brokerMs)} / ${n(p.clientMs, 2)} ms (${n(p.wallMs, 1)} ms each) | | |`,
      ...(t.brokerMs === null
        ? []
        : [`| … CPU that a transaction per record and hop would take at ${latencyRate}/s (2 hops: order, email) | ${n((latencyRate * 2 * (t.brokerMs + t.clientMs)) / 1000, 2)} cores of ${machine.cores} | | |`]),
    );
  }
  for (const [run, floor] of [
    [latency, latencyFloor],
    [latencyAtLeastOnce, latencyFloorAtLeastOnce],
  ] as const) {
    if (!run) continue;
    const label = run.delivery === 'exactly-once' ? 'exactly once' : 'at least once';
    rows.push(
      `| \`POST /payment\` → \`email-sent\` written, ${label}, at a steady ${run.rate}/s (${steadyCounts(run)}) | p50 ${n(run.p50, 1)} ms, p99 ${n(run.p99, 1)} ms, max ${n(run.max, 1)} ms | p99 < 100 ms | ${verdict(run.p99 < 100 && run.failed === 0)} |`,
      `| … the benchmark's own event loop, late over the run (a POST waits for it between its send time and leaving) | p99 ${n(run.clientLoopDelay.p99, 1)} ms, max ${n(run.clientLoopDelay.max, 1)} ms, late ${n(run.clientLoopDelay.lateShare * 100, 1)} % of the time | | |`,
      `| … the same chain idle after the run (nothing to handle): CPU of its processes over ${IDLE_SECONDS} s | ${idleShare(run)} | | |`,
    );
    if (!floor) continue;
    const brokerSeconds = floor.cpu.filter(([name]) => name.startsWith('Kafka')).reduce((sum, [, seconds]) => sum + seconds, 0);
    rows.push(
      `| … its floor: bare kafkajs pipes wired as the chain, with the services' consumer settings and ${floor.delivery === 'exactly-once' ? 'a transaction of `PartitionTransactions` per fetched batch' : 'an acks=all request per fetched batch'}, payments written by the benchmark at ${floor.rate}/s (${n(floor.sent)} after a ${WARM_UP_SECONDS} s warm-up) | p50 ${n(floor.p50, 1)} ms, p99 ${n(floor.p99, 1)} ms, max ${n(floor.max, 1)} ms; the broker ${n((brokerSeconds / floor.wallSeconds) * 100)} % of a core | | |`,
      `| … chain / its floor, p50 and p99 (ratio, same run) | ${n(run.p50 / floor.p50, 1)}x, ${n(run.p99 / floor.p99, 1)}x | | |`,
    );
  }
  if (takeover) {
    rows.push(
      `| Takeover after SIGTERM of an order instance | ${n(takeover.sigtermSeconds, 2)} s | < 3 s | ${verdict(takeover.sigtermSeconds < 3)} |`,
      `| Takeover after SIGKILL (session timeout 10 s) | ${n(takeover.sigkillSeconds, 2)} s | < 15 s | ${verdict(takeover.sigkillSeconds < 15)} |`,
    );
  }
  if (cluster) {
    const { burst, latency: steady } = cluster;
    rows.push(
      `| Chain end to end on three nodes (3 copies, 2 in sync, acks=all), exactly once, ${n(cluster.count)} payments until every lag is 0 | ${n(burst.chainPerSecond)} /s | | |`,
      ...(throughput && throughput.count === cluster.count
        ? [`| … three nodes / one node (ratio, same run) | ${n((burst.chainPerSecond / throughput.chainPerSecond) * 100, 1)} % | | |`]
        : []),
      `| … orders / distinct payments / emails / analytics events (payments, orders, emails) | ${counted(burst.counts)} | all ${n(cluster.count)}: no loss, no duplicate | ${verdict(burst.lossless)} |`,
      `| \`POST /payment\` → \`email-sent\` written, exactly once, on three nodes at a steady ${steady.rate}/s (${steadyCounts(steady)}) | p50 ${n(steady.p50, 1)} ms, p99 ${n(steady.p99, 1)} ms, max ${n(steady.max, 1)} ms | | |`,
      ...(latency && latency.rate === steady.rate
        ? [`| … p50 and p99, three nodes / one node (ratio, same run) | ${n((steady.p50 / latency.p50) * 100)} %, ${n((steady.p99 / latency.p99) * 100)} % | | |`]
        : []),
    );
  }
  const profile = throughput
    ? [
        '',
        `Where the time went during the ${n(throughput.count)}-payment burst, exactly once (CPU of each process over the burst, and the`,
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
        `The steady ${latency.rate}/s run (exactly once), hop by hop (broker timestamps of each payment's records; the services'`,
        `own metrics over the run) and CPU of each process over its ${n(latency.wallSeconds, 1)} s (${machine.cores} cores):`,
        '',
        '| hop | p50 | p99 | events per transaction | mean time in handler | the floor\'s hop: p50, p99 |',
        '|---|---|---|---|---|---|',
        ...latency.stages.map(({ name, p50, p99, work }, i) => {
          const perTransaction = work?.perTransaction == null ? '' : n(work.perTransaction, 1);
          const floor = latencyFloor?.stages[i];
          return `| ${name} | ${n(p50)} ms | ${n(p99)} ms | ${perTransaction} | ${work ? `${n(work.meanHandlerMs, 1)} ms` : ''} | ${floor ? `${n(floor.p50)} ms, ${n(floor.p99)} ms` : ''} |`;
        }),
        '',
        '| process | CPU seconds | share of one core | idle after the run: share of one core |',
        '|---|---|---|---|',
        ...latency.cpu.map(([name, seconds]) => {
          const idle = latency.idle.find(([process]) => process === name)?.[1];
          return `| ${name} | ${n(seconds, 1)} | ${n((seconds / latency.wallSeconds) * 100)} % | ${idle === undefined ? '' : idleShareOfCore(idle)} |`;
        }),
      ]
    : [];
  const clusterProfile = cluster
    ? [
        '',
        `On three nodes: CPU of each process over the ${n(cluster.count)}-payment burst, and over the steady ${cluster.latency.rate}/s run`,
        `(${n(cluster.latency.wallSeconds, 1)} s):`,
        '',
        '| process | burst: CPU seconds | burst: CPU ms per payment | steady: share of one core |',
        '|---|---|---|---|',
        // Every process of either run: payment and the HTTP client take part in the steady run only.
        ...[...new Set([...cluster.burst.profile.map((p) => p.process), ...cluster.latency.cpu.map(([name]) => name)])].map((name) => {
          const burst = cluster.burst.profile.find((p) => p.process === name);
          const steady = cluster.latency.cpu.find(([process]) => process === name)?.[1];
          const cells = burst ? `${n(burst.cpuSeconds, 1)} | ${n((burst.cpuSeconds * 1000) / cluster.count, 2)}` : ' | ';
          return `| ${name} | ${cells} | ${steady === undefined ? '' : `${n((steady / cluster.latency.wallSeconds) * 100)} %`} |`;
        }),
      ]
    : [];
  return [
    '# Benchmark results',
    '',
    `Written by \`${command}\` on ${machine.date}. What each figure means: [docs/benchmark.md](../docs/benchmark.md).`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; shared and noisy, so`,
    'targets are judged on ratios measured in the same run where they can be; absolute figures hold for this machine only.',
    `Versions: Node.js ${machine.node}, Kafka ${machine.kafka} (one local KRaft node, 512 MB heap${cluster ? '; three of 384 MB each for the three-node rows' : ''}), kafkajs ${machine.kafkajs},`,
    `NestJS ${machine.nest}, ${machine.postgres}.`,
    '',
    '| figure | measured | target | |',
    '|---|---|---|---|',
    ...rows,
    ...profile,
    ...steady,
    ...clusterProfile,
    '',
  ].join('\n');
}
