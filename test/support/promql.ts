import { parser } from '@prometheus-io/lezer-promql';

/** Grafana's own variables, replaced by what Prometheus takes, so that a dashboard's query runs as is. */
export function asPrometheusQuery(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__range|\$__interval/g, '1m');
}

/** The metric names a PromQL expression reads, parsed by Prometheus' own grammar (@prometheus-io/lezer-promql). */
export function metricNames(expr: string): string[] {
  const query = asPrometheusQuery(expr);
  const names = new Set<string>();
  const errors: number[] = [];
  parser.parse(query).iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name !== 'VectorSelector') return;
      const identifier = node.node.getChild('Identifier');
      if (identifier) names.add(query.slice(identifier.from, identifier.to));
    },
  });
  if (errors.length > 0) throw new Error(`not PromQL at ${errors.join(', ')}: ${query}`);
  return [...names];
}

/**
 * The series names a /metrics page (Prometheus' text format) exports: those with samples, and those its
 * `# TYPE` lines declare, with a histogram's `_bucket`, `_sum` and `_count` (a labelled family has no sample
 * until its first event, and is exported all the same).
 */
export function exportedNames(metricsText: string): Set<string> {
  const names = new Set<string>();
  for (const line of metricsText.split('\n')) {
    const declared = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (declared) {
      const [, name, type] = declared;
      names.add(name);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
    } else if (line && !line.startsWith('#')) {
      names.add(line.split(/[{ ]/, 1)[0]);
    }
  }
  return names;
}
