import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { GROUP_TOPICS } from '@app/contracts';
import { describeLag, ensureTopics, topicPlan, totalLag } from '@app/kafka';
import { brokersFromEnv, localBrokerPid, toolKafka } from '../lib/kafka-local';
import { databaseUrlFromEnv, recreateDatabase } from '../lib/postgres';
import { ServiceProcess, type ServiceSpec } from '../lib/services';
import { currentRanges, scanRanges } from '../lib/topic-scan';
import { waitFor } from '../lib/wait';

export const PIPE_TOPIC = 'bench-pipe-out';
export const PIPE_GROUP = 'bench-pipe';
const PORT_OFFSET = 20_000;
/** How long after first seeing the groups drained `drained` looks again to confirm it. */
const DRAIN_CONFIRM_MS = 500;

/** Where the benchmark's Kafka runs: the addresses, and the broker processes whose CPU it measures. */
export interface BenchKafka {
  brokers: string[];
  /** One process per node, read when measured (a node restarted has a new pid). */
  pids: () => Array<number | undefined>;
}

/** The benchmark's single local broker (KAFKA_BROKERS, KAFKA_STATE_DIR). */
export const singleBroker = (): BenchKafka => ({ brokers: brokersFromEnv(), pids: () => [localBrokerPid()] });

/** The benchmark's broker, database and service processes, and the resets between experiments. */
export class BenchContext {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly databaseUrl: string;
  private readonly running: ServiceProcess[] = [];

  private constructor(readonly broker: BenchKafka) {
    this.kafka = toolKafka('bench', broker.brokers);
    this.admin = this.kafka.admin();
    const url = new URL(databaseUrlFromEnv());
    url.pathname = `${url.pathname.replace(/_bench$/, '')}_bench`;
    this.databaseUrl = url.toString();
  }

  static async open(broker: BenchKafka = singleBroker()): Promise<BenchContext> {
    const context = new BenchContext(broker);
    await context.admin.connect();
    return context;
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.admin.disconnect();
  }

  /** Empty topics with `partitions` partitions, no consumer group offsets, an empty database. */
  async reset(partitions: number): Promise<void> {
    await this.stopAll();
    const ours = [...topicPlan(partitions).map((t) => t.topic), PIPE_TOPIC];
    const existing = (await this.admin.listTopics()).filter((t) => ours.includes(t));
    if (existing.length > 0) await this.admin.deleteTopics({ topics: existing });
    await waitFor(async () => (await this.admin.listTopics()).every((t) => !ours.includes(t)), {
      timeoutMs: 60_000,
      what: 'the old topics to be deleted',
    });
    // A broker that has just started answers "group load in progress" for a moment.
    await waitFor(async () => {
      const groups = (await this.admin.listGroups()).groups.map((g) => g.groupId);
      if (groups.length > 0) await this.admin.deleteGroups(groups);
      return true;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'the old consumer groups to be deleted' });
    // Right after a deletion the broker may still answer "unknown topic" while the new one gets leaders.
    await waitFor(async () => {
      await ensureTopics(this.admin, partitions);
      await this.admin.createTopics({ topics: [{ topic: PIPE_TOPIC, numPartitions: partitions }], waitForLeaders: true });
      return (await this.admin.fetchTopicMetadata({ topics: [PIPE_TOPIC] })).topics[0].partitions.length === partitions;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'the topics to be created again' });
    await recreateDatabase(this.databaseUrl);
  }

  serviceEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    // Per-message log lines are a product feature, but at 100,000 messages they measure the terminal.
    return { ...process.env, KAFKA_BROKERS: this.broker.brokers.join(','), DATABASE_URL: this.databaseUrl, LOG_LEVEL: 'warn', ...extra };
  }

  /** Starts services (all at once) and waits until each is healthy: for a consumer, joined to its group. */
  async start(specs: ServiceSpec[], extra: Record<string, string> = {}): Promise<ServiceProcess[]> {
    const started = specs.map((spec) =>
      ServiceProcess.start({ ...spec, port: spec.port + PORT_OFFSET }, this.serviceEnv({ ...extra, ...spec.env })),
    );
    this.running.push(...started);
    await Promise.all(started.map((p) => p.waitHealthy()));
    return started;
  }

  /** Starts a stopped service again with its settings; wait for it with `waitHealthy`. */
  restart(service: ServiceProcess): ServiceProcess {
    const again = ServiceProcess.start(service.spec, this.serviceEnv(service.spec.env));
    this.running.push(again);
    return again;
  }

  /** Waits until `instances` members of the group own the topic's partitions between them, each some. */
  async split(group: string, topic: string, instances: number): Promise<void> {
    await waitFor(async () => {
      const rows = await describeLag(this.admin, { [group]: [topic] });
      const owners = new Set(rows.map((r) => r.owner));
      return !owners.has(null) && owners.size === Math.min(instances, rows.length);
    }, { timeoutMs: 60_000, intervalMs: 250, what: `${instances} members of ${group} to split ${topic}` });
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.running.splice(0).map((p) => p.stop()));
  }

  /**
   * When the topic's first record was sent (its producer's timestamp), on the clock of `performance.now()`: the
   * start of a drain, without the sending tool's own start-up (connecting, checking the topic).
   */
  async firstSentAt(topic: string): Promise<number> {
    let first = Infinity;
    const ranges = (await currentRanges(this.admin, [topic])).map((range) => ({ ...range, to: range.from + 1n }));
    await scanRanges(this.kafka, ranges, (_topic, _partition, message) => {
      first = Math.min(first, Number(message.timestamp));
    });
    if (first === Infinity) throw new Error(`${topic} holds no record`);
    return first - performance.timeOrigin;
  }

  /** Sum of end offsets of a topic. */
  async endOffsets(topic: string): Promise<number> {
    return (await this.admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  }

  /**
   * Waits until the groups have consumed everything of the topics they read and each topic of `topics` holds
   * at least `expected` records (so the downstream events exist too), polling the broker; returns the moment
   * that was first seen. `groups` maps each group to its topics; a chain group name alone reads its usual ones.
   *
   * Drained is confirmed by a second look DRAIN_CONFIRM_MS later. Exactly once, a transaction's markers land on
   * __consumer_offsets and on its output topic one after the other: read between the two, a group can show no
   * lag while the records it just produced are still hidden from the next group.
   */
  async drained(groups: string[] | Record<string, string[]>, topics: string[], expected: number, timeoutMs: number): Promise<number> {
    const lagGroups = Array.isArray(groups)
      ? Object.fromEntries(groups.map((g) => [g, GROUP_TOPICS[g]]))
      : groups;
    const isDrained = async () => {
      for (const topic of topics) if ((await this.endOffsets(topic)) < expected) return false;
      return totalLag(await describeLag(this.admin, lagGroups)) === 0;
    };
    return waitFor(async () => {
      if (!(await isDrained())) return undefined;
      const seen = performance.now();
      await sleep(DRAIN_CONFIRM_MS);
      return (await isDrained()) ? seen : undefined;
    }, { timeoutMs, intervalMs: 100, what: `${Object.keys(lagGroups).join(', ')} to drain ${expected} records` });
  }
}

/** Peak resident memory (VmHWM) of a process, in MiB. */
export function peakRssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU used over a stretch of a run by each of the given processes, the broker, PostgreSQL and this process:
 * where the time went, in seconds.
 */
export class CpuMeter {
  private readonly processes: Array<{ name: string; pid: number | undefined }>;
  private readonly before: number[];
  private readonly postgresBefore = postgresCpuByPid();
  private readonly benchBefore = process.cpuUsage();

  constructor(services: ServiceProcess[], broker: BenchKafka, private readonly benchLabel: string) {
    const nodes = broker.pids();
    this.processes = [
      ...services.map((s) => ({ name: s.spec.label, pid: s.child.pid })),
      // Brokers that are not the benchmark's own (KAFKA_BROKERS set to others) have no pid here: no row, not a 0.
      ...nodes.flatMap((pid, i) => (pid === undefined ? [] : [{ name: nodes.length === 1 ? 'Kafka broker' : `Kafka node ${i + 1}`, pid }])),
    ];
    this.before = this.processes.map((p) => cpuSeconds(p.pid));
  }

  /** One row a process, in the order given, then the broker, PostgreSQL and this benchmark. */
  read(): Array<[string, number]> {
    const bench = process.cpuUsage(this.benchBefore);
    return [
      ...this.processes.map((p, i): [string, number] => [p.name, cpuSeconds(p.pid) - this.before[i]]),
      ['PostgreSQL (all processes)', postgresCpuSince(this.postgresBefore)],
      [this.benchLabel, (bench.user + bench.system) / 1e6],
    ];
  }
}

/** CPU seconds of every PostgreSQL process of this machine (server and backends), by pid. */
export function postgresCpuByPid(): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') seconds.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // The process ended while we looked.
    }
  }
  return seconds;
}

/**
 * PostgreSQL's CPU between two readings, process by process: a backend that started since counts whole, and one
 * that ended since (a pool closing an idle connection) is left out rather than subtracted, which would make the
 * figure negative. What an ended backend spent before it ended is lost, so this may fall short, never over.
 */
export function postgresCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of postgresCpuByPid()) total += Math.max(0, seconds - (before.get(pid) ?? 0));
  return total;
}

/** What a service's consumer has done, per topic it reads, from its own metrics since it started. */
export interface ConsumerCounts {
  handled: number;
  /** Seconds its handlers took, added up (`kafka_handler_duration_seconds`). */
  handlerSeconds: number;
  /** Transactions committed (exactly once only). */
  transactions: number;
}

export async function consumerCounts(url: string): Promise<Record<string, ConsumerCounts>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (pattern: string) => Number(text.match(new RegExp(`^${pattern} ([\\d.e+-]+)$`, 'm'))?.[1] ?? 0);
  const counts: Record<string, ConsumerCounts> = {};
  for (const [, topic] of text.matchAll(/^kafka_handler_duration_seconds_count\{topic="([^"]+)"\}/gm)) {
    counts[topic] = {
      handled: value(`kafka_handler_duration_seconds_count\\{topic="${topic}"\\}`),
      handlerSeconds: value(`kafka_handler_duration_seconds_sum\\{topic="${topic}"\\}`),
      transactions: value(`kafka_transactions_total\\{topic="${topic}",outcome="committed"\\}`),
    };
  }
  return counts;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
