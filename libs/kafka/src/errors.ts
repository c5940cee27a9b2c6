import { KafkaJSError } from 'kafkajs';
import { ContractViolation } from '@app/contracts';

/** A message that can never be handled as it is: dead-letter it at once, retrying cannot help. */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

// PostgreSQL SQLSTATE classes and codes that mean "the server is unavailable or busy", not "this row is bad".
const TRANSIENT_SQLSTATE_PREFIXES = ['08', '53', '57P'];
// 25006: read-only, as a database is for a moment after a failover.
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '25006']);
// Socket errors, and nodemailer's names for a mail server that cannot be reached or answered.
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ESOCKET',
  'ECONNECTION',
  'EDNS',
]);

/**
 * Whether an error comes from infrastructure that will come back (database, broker or mail server down, a
 * deadlock):
 * such a message is redelivered, never dead-lettered. Anything else about a message is its own fault.
 */
export function isTransientError(error: unknown): boolean {
  if (error instanceof PoisonMessageError || error instanceof ContractViolation) return false;
  if (error instanceof KafkaJSError) return error.retriable || error.name === 'KafkaJSNumberOfRetriesExceeded';
  const { code, message, responseCode } = (error ?? {}) as { code?: unknown; message?: unknown; responseCode?: unknown };
  // An SMTP 4xx reply means "try again later" (greylisting, a busy server).
  if (typeof responseCode === 'number' && responseCode >= 400 && responseCode < 500) return true;
  if (typeof code === 'string') {
    if (TRANSIENT_SOCKET_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_SQLSTATE_PREFIXES.some((prefix) => code.startsWith(prefix));
  }
  // node-postgres reports an exhausted pool or a lost connection only in words.
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}

/**
 * For a Coalescer: when a batch fails for a reason that is not transient, one of its items is bad, so each
 * is tried alone and only that item's record is dead-lettered.
 */
export const isBadData = (error: unknown): boolean => !isTransientError(error);
