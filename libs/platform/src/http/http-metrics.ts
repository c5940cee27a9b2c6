import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram } from 'prom-client';

type Labels = 'method' | 'route' | 'status';

/** Express sets `route` on a request its router matched, and Nest registers each handler as an Express route. */
type RoutedRequest = IncomingMessage & { baseUrl?: string; route?: { path?: string } };

/**
 * Counts and times every answer, labelled by the route template (`/orders/:id`, never the id itself, so the
 * series stay few) or `unmatched` for a request no route took (a 404, or a body refused before routing).
 */
export function httpMetrics(requests: Counter<Labels>, seconds: Histogram<Labels>) {
  return (request: RoutedRequest, response: ServerResponse, next: () => void): void => {
    const began = process.hrtime.bigint();
    response.once('finish', () => {
      const path = request.route?.path;
      const labels = { method: request.method ?? 'GET', route: path ? `${request.baseUrl ?? ''}${path}` : 'unmatched', status: String(response.statusCode) };
      requests.inc(labels);
      seconds.observe(labels, Number(process.hrtime.bigint() - began) / 1e9);
    });
    next();
  };
}
