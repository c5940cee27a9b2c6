import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONSUMER_GROUPS, GROUP_TOPICS, TOPICS } from '@app/contracts';
import { describeFetchError } from '../lib/fetch-errors';
import { chainSpecs } from '../lib/services';
import { currentRanges, scanRanges } from '../lib/topic-scan';
import { consumerCounts, CpuMeter, percentile, type BenchContext, type ConsumerCounts } from './context';
import type { Delivery } from './throughput';

const TOPICS_IN_ORDER = [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent];
/** Seconds at the same rate before the measured run, not counted. */
export const WARM_UP_SECONDS = 30;
/** The cart of every payment of a steady run, the chain's and its floor's. */
export const STEADY_CART = [{ name: 'AirPods Pro', price: 249, quantity: 1 }];
/** After the run, the chain is left idle this long (its last transactions end), then metered for IDLE_SECONDS. */
const IDLE_SETTLE_MS = 10_000;
export const IDLE_SECONDS = 10;
/** How often the client's event loop is sampled; the histogram holds whole intervals, this much over is late. */
const LOOP_RESOLUTION_MS = 10;
const lateBy = (intervalNs: number) => Math.max(0, intervalNs / 1e6 - LOOP_RESOLUTION_MS);

/** A steady run: from sending each payment to the email hop writing its `email-sent` (the record's timestamp). */
export interface SteadyLatency {
  delivery: Delivery;
  rate: number;
  sent: number;
  p50: number;
  p99: number;
  max: number;
  /** Each hop, from the broker timestamps of the records; for a service's hop, what its consumers did over the measured run, from their own metrics. */
  stages: Stage[];
  /** CPU seconds of each process over the run, and the run's wall seconds. */
  cpu: Array<[string, number]>;
  wallSeconds: number;
}

/** The chain's steady run, from sending the POST: the figure judged. */
export interface LatencyResult extends SteadyLatency {
  failed: number;
  /** POSTs of the warm-up that failed (not measured, but a sign the chain or the client struggled). */
  failedInWarmUp: number;
  /** Why POSTs failed, warm-up included: the status and body, or the client's error, with how many failed so. */
  failures: Record<string, number>;
  /**
   * How late this process's own event loop ran over the measured run and the wait for its last emails: p99 and
   * max in ms, and the share of that time it was late. A POST's send time is noted just before the request is
   * handed to the client, which writes it only when its loop gets to it: that wait is in the latency too.
   */
  clientLoopDelay: { p99: number; max: number; lateShare: number };
  /** CPU seconds of each process of the chain (services, broker, PostgreSQL) over IDLE_SECONDS with nothing to do, after the run. */
  idle: Array<[string, number]>;
}

export interface Stage {
  name: string;
  p50: number;
  p99: number;
  work?: HopWork;
}

export interface HopWork {
  handled: number;
  /** Events per committed transaction; null at least once. */
  perTransaction: number | null;
  /** Mean time from a record's handler starting to its end (a batch's records wait on their shared statements). */
  meanHandlerMs: number;
}

/** What the hop's consumers did with its input topic between two readings of their counts. */
function hopWork(input: string, before: Array<Record<string, ConsumerCounts>>, after: Array<Record<string, ConsumerCounts>>): HopWork {
  const total = (counts: Array<Record<string, ConsumerCounts>>, key: keyof ConsumerCounts) => counts.reduce((sum, c) => sum + (c[input]?.[key] ?? 0), 0);
  const added = (key: keyof ConsumerCounts) => total(after, key) - total(before, key);
  const [handled, seconds, transactions] = [added('handled'), added('handlerSeconds'), added('transactions')];
  return { handled, perTransaction: transactions > 0 ? handled / transactions : null, meanHandlerMs: handled > 0 ? (seconds * 1000) / handled : 0 };
}

/**
 * From `POST /payment` to its `email-sent` event, at a steady rate: each payment has its own user id. The end of
 * a run is seen in the order and email groups' lag; the records' timestamps (when each service produced them)
 * are read after the run: a consumer reading them live would fetch every few milliseconds on the cores the
 * chain needs.
 */
export async function latencyExperiment(context: BenchContext, rate: number, seconds: number, delivery: Delivery): Promise<LatencyResult> {
  await context.reset(3);
  const services = await context.start(chainSpecs(), { DELIVERY: delivery });
  const payment = services.find((s) => s.spec.service === 'payment')!;
  // Each hop commits what it consumed with (exactly once) or after (at least once) what it produced: once both
  // groups have no lag, every accepted payment's email-sent is written.
  const hopGroups = { [CONSUMER_GROUPS.order]: GROUP_TOPICS[CONSUMER_GROUPS.order], [CONSUMER_GROUPS.email]: GROUP_TOPICS[CONSUMER_GROUPS.email] };

  const failures = new Map<string, number>();
  const post = async (userId: number): Promise<string | undefined> => {
    try {
      const response = await fetch(`${payment.url}/payment`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: userId, cart: STEADY_CART }),
      });
      // Read to the end either way: undici keeps a connection whose answer is unread from being used again,
      // so every POST would open a new one (thousands, until the server's queue of new connections overflowed).
      const body = await response.text();
      return response.status === 200 ? undefined : `HTTP ${response.status}: ${body.slice(0, 200)}`;
    } catch (error) {
      return describeFetchError(error);
    }
  };
  /** Posts `count` payments at `rate` from `firstUser` on, and waits until the chain has made each an email. */
  const sendSteadily = async (count: number, firstUser: number, phase: string) => {
    const sent = await sendAtRate(count, rate, firstUser, post, failures);
    if (sent.failed > 0) console.warn(`[bench] ${delivery}, ${phase}: ${sent.failed} POSTs failed; why, since the warm-up began: ${JSON.stringify(Object.fromEntries(failures))}`);
    await context.drained(hopGroups, [], 0, 120_000);
    return sent;
  };

  // The services and the broker have just started: their JIT compilers would otherwise run during the
  // measurement (the broker's C2 compiler thread took a quarter of a core in the first seconds).
  const warmUp = await sendSteadily(rate * WARM_UP_SECONDS, 2_000_000, 'warm-up');

  const hops = { order: services.filter((s) => s.spec.service === 'order'), email: services.filter((s) => s.spec.service === 'email') };
  const countsOf = (of: typeof services) => Promise.all(of.map((s) => consumerCounts(s.url)));
  const [orderBefore, emailBefore] = await Promise.all([countsOf(hops.order), countsOf(hops.email)]);
  const meter = new CpuMeter(services, context.broker, 'this benchmark (HTTP client)');
  const runBegan = new Date();
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const wallBefore = performance.now();
  const count = rate * seconds;
  const { sentWallClock, failed } = await sendSteadily(count, 1_000_000, 'measured run');
  const wallSeconds = (performance.now() - wallBefore) / 1000;
  loop.disable();
  const cpu = meter.read();
  const [orderAfter, emailAfter] = await Promise.all([countsOf(hops.order), countsOf(hops.email)]);
  // The same chain, now with nothing to do: what its consumers' polling and timers cost by themselves.
  await sleep(IDLE_SETTLE_MS);
  const idleMeter = new CpuMeter(services, context.broker, 'this benchmark');
  await sleep(IDLE_SECONDS * 1000);
  // This process only waited: its row is left out.
  const idle = idleMeter.read().slice(0, -1);
  await context.stopAll();
  const { written, stages } = await latencyStages(context, runBegan, sentWallClock, 'POST sent → payment-successful written', [
    hopWork(TOPICS.paymentSuccessful, orderBefore, orderAfter),
    hopWork(TOPICS.orderCreated, emailBefore, emailAfter),
  ]);
  return {
    delivery,
    rate,
    sent: count,
    p50: percentile(written, 50),
    p99: percentile(written, 99),
    max: written[written.length - 1],
    failed,
    failedInWarmUp: warmUp.failed,
    failures: Object.fromEntries(failures),
    clientLoopDelay: { p99: lateBy(loop.percentile(99)), max: lateBy(loop.max), lateShare: (lateBy(loop.mean) * loop.count) / 1000 / wallSeconds },
    stages,
    cpu,
    wallSeconds,
    idle,
  };
}

/**
 * Sends `count` payments at `rate`, each for its own user from `firstUser` on, through `send` (which resolves
 * with why it failed, or undefined); notes when each was sent, and forgets the failed ones, counting their
 * reasons into `failures`.
 */
export async function sendAtRate(
  count: number,
  rate: number,
  firstUser: number,
  send: (userId: number) => Promise<string | undefined>,
  failures: Map<string, number>,
): Promise<{ sentWallClock: Map<number, number>; failed: number }> {
  const sentWallClock = new Map<number, number>();
  let failed = 0;
  const requests: Promise<void>[] = [];
  const began = performance.now();
  for (let i = 0; i < count; i++) {
    const due = began + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const userId = firstUser + i;
    sentWallClock.set(userId, Date.now());
    requests.push(
      send(userId).then((reason) => {
        if (reason === undefined) return;
        failed++;
        sentWallClock.delete(userId);
        failures.set(reason, (failures.get(reason) ?? 0) + 1);
      }),
    );
  }
  await Promise.all(requests);
  return { sentWallClock, failed };
}

/**
 * Reads, after a run, the timestamps of each sent payment's records on the three topics (written since
 * `runBegan`): the latency from sending to `email-sent` written, sorted, and hop by hop. `work` is what the
 * order and email hops' consumers did, when known.
 */
export async function latencyStages(
  context: BenchContext,
  runBegan: Date,
  sentWallClock: Map<number, number>,
  firstStage: string,
  work: Array<HopWork | undefined> = [],
): Promise<{ written: number[]; stages: Stage[] }> {
  const stamped = new Map<string, Map<number, number>>(TOPICS_IN_ORDER.map((t) => [t, new Map()]));
  await scanRanges(context.kafka, await currentRanges(context.admin, TOPICS_IN_ORDER, { since: runBegan }), (topic, _partition, message) => {
    const { user_id } = JSON.parse(String(message.value)) as { user_id: number };
    // A record redelivered (at least once) is written again later: the first one is when the hop made it.
    const stamps = stamped.get(topic)!;
    if (!stamps.has(user_id)) stamps.set(user_id, Number(message.timestamp));
  });
  const users = [...sentWallClock.keys()];
  const hop = (name: string, from: Map<number, number>, to: Map<number, number>, hopWork?: HopWork): Stage => {
    const times = users
      .map((u) => {
        const [start, end] = [from.get(u), to.get(u)];
        // A missing timestamp would make a NaN, which sorts anywhere: the percentiles would be quietly wrong.
        if (start === undefined || end === undefined) throw new Error(`${name}: no timestamp for user ${u}`);
        return end - start;
      })
      .sort((a, b) => a - b);
    return { name, p50: percentile(times, 50), p99: percentile(times, 99), work: hopWork };
  };
  const [payments, orders, emails] = TOPICS_IN_ORDER.map((t) => stamped.get(t)!);
  const stages = [
    hop(firstStage, sentWallClock, payments),
    hop('payment-successful → order-created (order)', payments, orders, work[0]),
    hop('order-created → email-sent (email)', orders, emails, work[1]),
  ];
  // Every user's email timestamp exists: the email hop above threw otherwise.
  return { written: users.map((u) => emails.get(u)! - sentWallClock.get(u)!).sort((a, b) => a - b), stages };
}
