import { createRequire } from 'node:module';
import type { FetchGathering } from './kafka-config';

/**
 * How a consumer that does not gather fetches (consumerServerOptions), and a gathering one once it has been
 * quiet: the broker answers at the first record, or after this long. Leaving and rejoining a group wait for the
 * fetch under way, so a short wait is what lets a stopped instance's partitions move within a second or two.
 */
export const IDLE_FETCH: FetchGathering = { minBytes: 1, maxWaitMs: 500 };

/**
 * How long a gathering consumer's fetches must bring nothing before it idles. Under load a gathering window can
 * come back empty (at 67 records a second, about one 25 ms window in five would, were they random), and idling
 * at the first one would fetch the next record alone, in a transaction of its own.
 */
export const QUIET_MS = 1000;

/** A fetch's batches, as kafkajs returns them: one per partition asked for, empty when nothing came. */
interface FetchedBatch {
  isEmpty(): boolean;
}

/**
 * The fetch settings of one gathering consumer: its gathering while records come, IDLE_FETCH once its fetches
 * have brought none for QUIET_MS, its gathering again as soon as one brings a record.
 */
export class FetchMode {
  private quietSince: number | undefined;

  constructor(readonly gather: FetchGathering) {}

  current(now: number): FetchGathering {
    return this.quietSince !== undefined && now - this.quietSince >= QUIET_MS ? IDLE_FETCH : this.gather;
  }

  /**
   * A partition paused (by back-pressure, or waiting to be taken over again) is not quiet: its resume must not
   * wait behind an idle fetch of up to 500 ms, so the consumer keeps gathering while one is.
   */
  fetched(batches: readonly FetchedBatch[], now: number, paused: boolean): void {
    if (paused || batches.some((batch) => !batch.isEmpty())) this.quietSince = undefined;
    else this.quietSince ??= now;
  }
}

/** The fields of kafkajs' ConsumerGroup that its fetch reads for every request. */
interface ConsumerGroupFetch {
  minBytes: number;
  maxWaitTime: number;
  subscriptionState: { paused(): unknown[] };
  fetch(nodeId: number): Promise<FetchedBatch[]>;
}

type Fetch = ConsumerGroupFetch['fetch'];

/**
 * Wraps kafkajs' `ConsumerGroup.fetch`. A consumer created to gather (minBytes above 1) fetches as its FetchMode
 * says; one that does not gather is left as it is. The mode is the consumer's: with several brokers, each has a
 * fetcher of its own, and any of them bringing a record ends the quiet for all.
 */
export function adaptiveFetch(fetch: Fetch, now: () => number = () => performance.now()): Fetch {
  const modes = new WeakMap<ConsumerGroupFetch, FetchMode | null>();
  return async function (this: ConsumerGroupFetch, nodeId: number) {
    let mode = modes.get(this);
    if (mode === undefined) {
      mode = this.minBytes > 1 ? new FetchMode({ minBytes: this.minBytes, maxWaitMs: this.maxWaitTime }) : null;
      modes.set(this, mode);
    }
    if (mode === null) return fetch.call(this, nodeId);
    // kafkajs reads them a few awaits into the call; another broker's fetcher may set them in between, to the
    // same mode unless the quiet has just begun or ended: either wait is safe.
    const settings = mode.current(now());
    this.minBytes = settings.minBytes;
    this.maxWaitTime = settings.maxWaitMs;
    const batches = await fetch.call(this, nodeId);
    mode.fetched(batches, now(), this.subscriptionState.paused().length > 0);
    return batches;
  };
}

let installed = false;

/**
 * A gathering consumer (FetchGathering) would otherwise ask every `maxWaitMs` for as long as nothing comes:
 * with exactly once, each order and email instance 40 times a second. Patches kafkajs' ConsumerGroup; a no-op
 * after the first call. kafkaClientConfig installs it.
 */
export function installIdleFetches(): void {
  if (installed) return;
  // Node's own require (in a webpack bundle, `require` is webpack's), where kafkajs loads its modules.
  const ConsumerGroup = createRequire(__filename)('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupFetch };
  ConsumerGroup.prototype.fetch = adaptiveFetch(ConsumerGroup.prototype.fetch);
  installed = true;
}
