import { randomInt } from 'node:crypto';
import request from 'supertest';
import { readTokenHeaders } from '../../scripts/lib/read-token';
import { waitFor } from '../../scripts/lib/wait';
import { urlOf } from './environment';

/** Requests to a service's read endpoints, with the bearer token when READ_TOKEN is set for the run. */
export const reader = (url: string) => request.agent(url).set(readTokenHeaders());

export const payment = () => request(urlOf('payment'));
export const orders = (instance: 1 | 2 | 3 = 1) => reader(urlOf(`order-${instance}`));
export const emails = () => reader(urlOf('email'));
export const analytics = () => reader(urlOf('analytics'));

/** A user id no other test (or earlier run) uses, so each test reads only its own orders and emails. */
export function freshUserId(): number {
  return randomInt(1_000_000, 2_000_000_000);
}

export const CHAIN_DEADLINE_MS = 30_000;

export async function ordersOf(userId: number, instance: 1 | 2 | 3 = 1): Promise<Array<Record<string, unknown>>> {
  const response = await orders(instance).get('/orders').query({ user_id: userId, limit: 200 }).expect(200);
  return response.body.items;
}

/** Waits for the user's orders to appear, and returns them. */
export function ordersArriving(userId: number, what: string, timeoutMs = CHAIN_DEADLINE_MS): Promise<Array<Record<string, unknown>>> {
  return waitFor(async () => {
    const found = await ordersOf(userId);
    return found.length > 0 ? found : undefined;
  }, { timeoutMs, what });
}

export async function emailsOf(userId: number): Promise<Array<Record<string, unknown>>> {
  const response = await emails().get('/emails').query({ user_id: userId, limit: 200 }).expect(200);
  return response.body.items;
}

export async function statistics(): Promise<Record<string, any>> {
  return (await analytics().get('/analytics').expect(200)).body;
}

/** Waits until analytics has counted at least the given totals. */
export function statisticsReaching(totals: { payments: number; orders: number; emails: number }) {
  return waitFor(
    async () => {
      const stats = await statistics();
      return stats.total_payments >= totals.payments &&
        stats.total_orders >= totals.orders &&
        stats.total_emails >= totals.emails
        ? stats
        : undefined;
    },
    { timeoutMs: CHAIN_DEADLINE_MS, what: `analytics to count ${JSON.stringify(totals)}` },
  );
}

/**
 * Waits until the consumer behind `url` reports itself joined (not rebalancing) and, when given, owning
 * that many partitions. Other suites start and kill group members, so a rebalance may still be settling.
 */
export function joinedGroup(url: string, partitions?: number) {
  return waitFor(
    async () => {
      const response = await request(url).get('/health');
      const kafka = response.body.details?.kafka;
      const owned = Object.values<number[]>(kafka?.assignments ?? {}).flat().length;
      return response.status === 200 && kafka?.consumer === 'joined' && (partitions === undefined || owned === partitions) ? response : undefined;
    },
    { timeoutMs: CHAIN_DEADLINE_MS, what: `${url} to be joined to its consumer group${partitions ? ` with ${partitions} partitions` : ''}` },
  );
}
