import { setTimeout as sleep } from 'node:timers/promises';
import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { describeLag } from '@app/kafka';
import { Partitioners } from 'kafkajs';
import { queryDatabase } from '../lib/postgres';
import { chainSpecs } from '../lib/services';
import { waitFor } from '../lib/wait';
import type { BenchContext } from './context';

export interface TakeoverResult {
  sigtermSeconds: number;
  sigkillSeconds: number;
}

/**
 * Seconds from stopping an order instance until a payment written after the stop to one of its partitions
 * has become an order: the member must be noticed gone (at once after SIGTERM, which leaves the group; after
 * the session timeout after SIGKILL), the group rebalanced, and the new owner reading.
 */
export async function takeoverExperiment(context: BenchContext): Promise<TakeoverResult> {
  await context.reset(3);
  const orderSpecs = chainSpecs().filter((s) => s.service === 'order');
  let instances = await context.start(orderSpecs);
  const producer = context.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();

  const measure = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<number> => {
    await context.split(CONSUMER_GROUPS.order, TOPICS.paymentSuccessful, 3);
    const victim = instances[1];
    const rows = await describeLag(context.admin, { [CONSUMER_GROUPS.order]: [TOPICS.paymentSuccessful] });
    const partition = rows.find((r) => r.owner?.startsWith(`order-${victim.spec.env?.INSTANCE_ID}@`))!.partition;

    const stoppedAt = performance.now();
    const stopping = victim.stop(signal);
    let probing = true;
    const probes = (async () => {
      for (let n = 0; probing; n++) {
        const id = `probe-${signal}-${n}`;
        await producer.send({ topic: TOPICS.paymentSuccessful, messages: [{ partition, key: id, value: JSON.stringify({ payment_id: id, user_id: 1, cart: [{ name: 'Xbox Series X', price: 499 }], timestamp: 1 }) }] });
        await sleep(20);
      }
    })();
    const seconds = await waitFor(async () => {
      // Only a survivor's order counts: after SIGTERM the victim finishes what it has before it leaves.
      const done = await queryDatabase<{ payment_id: string }>(
        context.databaseUrl,
        'SELECT payment_id FROM orders.orders WHERE payment_id LIKE $1 AND instance_id <> $2',
        [`probe-${signal}-%`, victim.spec.env?.INSTANCE_ID],
      );
      return done.length > 0 ? (performance.now() - stoppedAt) / 1000 : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50, what: `a payment on partition ${partition} to be processed after ${signal}` });
    probing = false;
    await Promise.all([probes, stopping]);
    instances = instances.map((i) => (i === victim ? context.restart(victim) : i));
    await instances[1].waitHealthy();
    return seconds;
  };

  try {
    return { sigtermSeconds: await measure('SIGTERM'), sigkillSeconds: await measure('SIGKILL') };
  } finally {
    await producer.disconnect();
    await context.stopAll();
  }
}

