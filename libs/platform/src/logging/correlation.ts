import { randomUUID } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';

/** The header that carries a payment's correlation id, on HTTP requests and answers and on Kafka records. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** What ties the work in hand to the request that began it. */
export type Correlation =
  /** Handling an HTTP request: its id is the incoming X-Request-Id, or a new one. */
  | { source: 'http'; request_id: string }
  /** Handling a Kafka record: the id in its x-request-id header, if it has one, and where it is. */
  | { source: 'kafka'; request_id?: string; topic: string; partition: number; offset: string };

const storage = new AsyncLocalStorage<Correlation>();

/** Runs `work` (and everything it starts) as part of `correlation`. */
export function withCorrelation<T>(correlation: Correlation, work: () => T): T {
  return storage.run(correlation, work);
}

export function currentCorrelation(): Correlation | undefined {
  return storage.getStore();
}

/** The request id of the work in hand, to pass on in the headers of what it publishes. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.request_id;
}

const GIVEN_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id when it is a plausible one (1 to 128 letters, digits, . _ : -), else a new UUID. */
export function acceptRequestId(given: unknown): string {
  return typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
}

interface Request {
  headers: Record<string, string | string[] | undefined>;
  id?: unknown;
}
interface Response {
  setHeader(name: string, value: string): unknown;
}

/**
 * Express middleware, first in line: gives the request its id (`req.id`, which pino-http logs), returns it in
 * the answer's X-Request-Id, and runs the rest of the request as part of it, so that what the request publishes
 * carries the id on.
 */
export function correlationMiddleware(req: Request, res: Response, next: () => void): void {
  const id = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
  req.id = id;
  res.setHeader('X-Request-Id', id);
  withCorrelation({ source: 'http', request_id: id }, next);
}
