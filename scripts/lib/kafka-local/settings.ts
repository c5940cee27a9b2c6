import * as path from 'node:path';
import { REPO_ROOT } from '../services';

const DEFAULT_BROKERS = '127.0.0.1:9092';

/** `KAFKA_BROKERS`, read when called: comma-separated `host:port`, 127.0.0.1:9092 when unset or empty. */
export function brokersFromEnv(): string[] {
  const brokers = (process.env.KAFKA_BROKERS ?? DEFAULT_BROKERS)
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  return brokers.length > 0 ? brokers : [DEFAULT_BROKERS];
}

/** `KAFKA_STATE_DIR` (relative to the repository), read when called: a second broker, the benchmark's, keeps its own. */
export function stateDirFromEnv(): string {
  return path.resolve(REPO_ROOT, process.env.KAFKA_STATE_DIR || '.kafka');
}

/** `KAFKA_HEAP_OPTS`, as the JVM's arguments. */
export function heapOptions(): string[] {
  return (process.env.KAFKA_HEAP_OPTS ?? '-Xms512m -Xmx512m').split(/\s+/).filter(Boolean);
}

/**
 * `KAFKA_JVM_PERFORMANCE_OPTS`, as kafka-run-class.sh reads it; unset, its G1 settings: short pauses matter
 * more than throughput for a dev broker.
 */
export function jvmPerformanceOptions(): string[] {
  const options = process.env.KAFKA_JVM_PERFORMANCE_OPTS ?? '-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent';
  return options.split(/\s+/).filter(Boolean);
}

/**
 * For Kafka's one-shot tools (formatting storage, reading the quorum): C1 only, as a run of a second or two
 * spends more on C2's compiling than it gains from it (about 40 % less CPU for a format).
 */
export const TOOL_JVM_OPTIONS = ['-XX:TieredStopAtLevel=1'];

/** For a broker that lives minutes (a test's): C1 only halves the CPU it takes to start. */
export const SHORT_LIVED_BROKER_JVM_OPTIONS = [...TOOL_JVM_OPTIONS, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20'].join(' ');

export function parseAddress(address: string): { host: string; port: number } {
  const sep = address.lastIndexOf(':');
  const host = sep > 0 ? address.slice(0, sep) : address;
  const port = sep > 0 ? Number(address.slice(sep + 1)) : 9092;
  if (!Number.isInteger(port) || port <= 0 || port >= 65535) {
    throw new Error(`KAFKA_BROKERS: cannot read a port from "${address}"`);
  }
  return { host, port };
}

export type Log = (line: string) => void;
export const defaultLog: Log = (line) => console.log(`[kafka] ${line}`);
