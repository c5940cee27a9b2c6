import { setTimeout as sleep } from 'node:timers/promises';
import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { floodKafka } from '../flood';
import { peakRssMiB, type BenchContext } from './context';

/** A flood far larger than one instance holds: what back-pressure keeps in memory. */
export interface HeldRecordsResult {
  payments: number;
  /** Most records the instance held at once over its partitions (its kafka_consumer_records_held gauges, read every 100 ms). */
  peakHeld: number;
  /** Peak resident memory once joined and idle, and over the flood. */
  idleRssMiB: number | null;
  peakRssMiB: number | null;
  /** From the first payment sent until the order group had committed every one and every order-created existed. */
  seconds: number;
}

/** The records an instance holds now, over all its partitions. */
async function recordsHeld(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let held = 0;
  for (const [, value] of text.matchAll(/^kafka_consumer_records_held\{[^}]*\} (\d+)$/gm)) held += Number(value);
  return held;
}

/**
 * `count` payments flooded at once into one order instance with its default settings and a slow step of
 * `delayMs`: the payments wait in Kafka, not in the instance, whose partitions pause above their high-water mark.
 */
export async function heldRecordsRow(context: BenchContext, count: number, delayMs: number): Promise<HeldRecordsResult> {
  await context.reset(3);
  const [order] = await context.start([{ service: 'order', label: 'order-1', port: 8001, env: { INSTANCE_ID: '1' } }], { PROCESSING_DELAY_MS: String(delayMs) });
  await context.split(CONSUMER_GROUPS.order, TOPICS.paymentSuccessful, 1);
  const idleRssMiB = peakRssMiB(order.child.pid);
  let peakHeld = 0;
  let flooding = true;
  const sampling = (async () => {
    while (flooding) {
      peakHeld = Math.max(peakHeld, await recordsHeld(order.url).catch(() => 0));
      await sleep(100);
    }
  })();
  try {
    await floodKafka({ count, batch: 500, brokers: context.broker.brokers });
    const done = await context.drained([CONSUMER_GROUPS.order], [TOPICS.orderCreated], count, 20 * 60_000);
    const began = await context.firstSentAt(TOPICS.paymentSuccessful);
    return { payments: count, peakHeld, idleRssMiB, peakRssMiB: peakRssMiB(order.child.pid), seconds: (done - began) / 1000 };
  } finally {
    flooding = false;
    await sampling;
    await context.stopAll();
  }
}
