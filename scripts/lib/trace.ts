import { join } from 'node:path';
import { REPO_ROOT } from './services';

/** Where `npm start` keeps every service's log lines (JSON) for `npm run trace`. */
export const CHAIN_LOG = join(REPO_ROOT, '.logs', 'chain.log');

/** npm start's log file: chain.log, or for a chain beside it (`--port-offset`), chain-<offset>.log. */
export function chainLogFile(portOffset = 0): string {
  return portOffset === 0 ? CHAIN_LOG : join(REPO_ROOT, '.logs', `chain-${portOffset}.log`);
}

/** The fields that name one payment's work: following any of them from one line finds the others. */
const ID_FIELDS = ['request_id', 'payment_id', 'order_id', 'email_id'] as const;

export interface LogLine {
  time: string;
  service: string;
  instance?: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface Trace {
  lines: LogLine[];
  /** The ids the trace followed, the one asked for included. */
  ids: string[];
  /** Lines that were not JSON log lines. */
  skipped: number;
}

/**
 * One payment's path through the chain's logs: the lines that carry `id` (a request id, payment id, order id
 * or email id), then those carrying any id found on them, until no new id turns up (a payment's request id leads
 * to its payment id, that to its order, the order to its email), in time order.
 */
export function traceLines(text: string, id: string): Trace {
  const parsed: LogLine[] = [];
  let skipped = 0;
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      const line = JSON.parse(raw) as LogLine;
      if (typeof line === 'object' && line !== null && typeof line.msg === 'string') parsed.push(line);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  const ids = new Set([id]);
  const chosen = new Set<LogLine>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const line of parsed) {
      if (chosen.has(line) || !ID_FIELDS.some((f) => typeof line[f] === 'string' && ids.has(line[f] as string))) continue;
      chosen.add(line);
      for (const f of ID_FIELDS) {
        const value = line[f];
        if (typeof value === 'string' && !ids.has(value)) {
          ids.add(value);
          grew = true;
        }
      }
    }
  }
  const lines = [...chosen].sort((a, b) => String(a.time).localeCompare(String(b.time)));
  return { lines, ids: [...ids], skipped };
}

/** One line of a trace as `npm run trace` prints it: time, service and instance, level, message, record. */
export function formatTraceLine(line: LogLine): string {
  const where = line.topic !== undefined ? `  (${line.topic}[${line.partition}]@${line.offset})` : '';
  return `${String(line.time).slice(11, 23)}  ${whoLogged(line).padEnd(9)} ${line.level.padEnd(5)} ${line.msg}${where}`;
}

/** The service that logged a line, with the instance for order (`order-2`), as npm start labels them. */
export function whoLogged(line: LogLine): string {
  return line.service === 'order' && line.instance ? `order-${line.instance}` : line.service;
}
