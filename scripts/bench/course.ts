import { CONSUMER_GROUPS, TOPICS } from '@app/contracts';
import { floodKafka } from '../flood';
import type { ServiceSpec } from '../lib/services';
import type { BenchContext } from './context';
import { keyOrderExperiment, type KeyOrderResult } from './key-order';

export interface CourseResult {
  count: number;
  delayMs: number;
  oneInstanceSeconds: number;
  threeInstancesSeconds: number;
  speedup: number;
  /** The same payments by one instance in key order, its default (the consume engine), and its other rows. */
  keyOrder: KeyOrderResult;
}

const orderInstance = (n: number, port: number): ServiceSpec => ({
  service: 'order',
  label: `order-${n}`,
  port,
  env: { INSTANCE_ID: String(n) },
});

/**
 * The course's experiment: `count` payments with a slow order step, drained by one instance over one
 * partition, then by three instances over three partitions, one record at a time per partition as the course's
 * consumers work (CONSUMER_ORDER=partition); beside it, the consume engine's rows (see keyOrderExperiment). Time runs from the first payment sent (its record's timestamp) until
 * the order group has committed everything and every order-created event exists.
 */
export async function courseExperiment(context: BenchContext, count: number, delayMs: number): Promise<CourseResult> {
  const drain = async (partitions: number, instances: ServiceSpec[]): Promise<number> => {
    await context.reset(partitions);
    await context.start(instances, { PROCESSING_DELAY_MS: String(delayMs), CONSUMER_ORDER: 'partition', TOPIC_PARTITIONS: String(partitions) });
    await context.split(CONSUMER_GROUPS.order, TOPICS.paymentSuccessful, instances.length);
    await floodKafka({ count, batch: 500, brokers: context.broker.brokers });
    const done = await context.drained([CONSUMER_GROUPS.order], [TOPICS.orderCreated], count, 30 * 60_000);
    const began = await context.firstSentAt(TOPICS.paymentSuccessful);
    await context.stopAll();
    return (done - began) / 1000;
  };
  const keyOrder = await keyOrderExperiment(context, count, delayMs);
  const one = await drain(1, [orderInstance(1, 8001)]);
  const three = await drain(3, [orderInstance(1, 8001), orderInstance(2, 8004), orderInstance(3, 8005)]);
  return { count, delayMs, oneInstanceSeconds: one, threeInstancesSeconds: three, speedup: one / three, keyOrder };
}
