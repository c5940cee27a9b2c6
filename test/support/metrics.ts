import request from 'supertest';

/** A service's /metrics, as Prometheus scrapes it. */
export async function metricsText(url: string): Promise<string> {
  return (await request(url).get('/metrics').expect(200)).text;
}

/** The sum of the series on a service's /metrics whose lines match (0 when none does). */
export async function metric(url: string, line: RegExp): Promise<number> {
  return (await metricsText(url)).split('\n').filter((l) => line.test(l)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** The value of one series (labels as the service prints them), 0 when it has none yet. */
export async function sample(url: string, series: string): Promise<number> {
  const line = (await metricsText(url)).split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
