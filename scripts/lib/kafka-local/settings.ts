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
