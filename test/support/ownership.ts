import { TOPICS } from '@app/contracts';
import request from 'supertest';
import { waitFor } from '../../scripts/lib/wait';
import { chainServices } from './chain-control';

export const ORDER_INSTANCES = ['order-1', 'order-2', 'order-3'];
const PARTITIONS = [0, 1, 2];

/** Which partitions of payment-successful each running order instance owns, from its /health. */
export async function ownership(labels = ORDER_INSTANCES): Promise<Map<string, number[]>> {
  const services = (await chainServices()).filter((s) => labels.includes(s.label) && s.running);
  const owned = new Map<string, number[]>();
  for (const service of services) {
    const health = await request(service.url).get('/health');
    owned.set(service.label, health.body.details?.kafka?.assignments?.[TOPICS.paymentSuccessful] ?? []);
  }
  return owned;
}

/** Each partition owned by exactly one of the given instances, and every instance owning something. */
export function waitForSplit(labels: string[], what: string): Promise<Map<string, number[]>> {
  return waitFor(async () => {
    const owned = await ownership(labels);
    const all = [...owned.values()].flat().sort();
    const everyoneWorks = labels.every((l) => (owned.get(l) ?? []).length > 0);
    return owned.size === labels.length && everyoneWorks && JSON.stringify(all) === JSON.stringify(PARTITIONS) ? owned : undefined;
  }, { timeoutMs: 45_000, intervalMs: 250, what });
}
