import { createRequire } from 'node:module';
import type { FetchGathering } from './kafka-config';

/**
 * How a gathering consumer fetches once a fetch has found nothing: the broker answers at the first record, or
 * after this long. It is the wait of a consumer that does not gather (kafka-config), so leaving and rejoining a
 * group take no longer than they do there.
 */
export const IDLE_FETCH: FetchGathering = { minBytes: 1, maxWaitMs: 500 };

/** A fetch's batches, as kafkajs returns them (one per partition asked for, most often empty when idle). */
interface FetchedBatch {
  isEmpty(): boolean;
}

/**
 * What the next fetch from a broker asks for, after one that returned `batches`: gathering while records come,
 * waiting for the first one once none came.
 */
export function nextFetch(gather: FetchGathering, batches: readonly FetchedBatch[]): FetchGathering {
  return batches.some((batch) => !batch.isEmpty()) ? gather : IDLE_FETCH;
}

/** The fields of kafkajs' ConsumerGroup that its fetch reads for every request. */
interface ConsumerGroupFetch {
  minBytes: number;
  maxWaitTime: number;
  fetch(nodeId: number): Promise<FetchedBatch[]>;
}

type Fetch = ConsumerGroupFetch['fetch'];

/**
 * Wraps kafkajs' `ConsumerGroup.fetch`. A consumer created to gather (minBytes above 1) asks each broker with
 * its gathering while records come; once a fetch from that broker brings none, it asks with IDLE_FETCH until
 * one comes. A consumer that does not gather is left as it is.
 */
export function adaptiveFetch(fetch: Fetch): Fetch {
  const configured = new WeakMap<ConsumerGroupFetch, FetchGathering>();
  const modes = new WeakMap<ConsumerGroupFetch, Map<number, FetchGathering>>();
  return async function (this: ConsumerGroupFetch, nodeId: number) {
    let gather = configured.get(this);
    if (gather === undefined) {
      gather = { minBytes: this.minBytes, maxWaitMs: this.maxWaitTime };
      configured.set(this, gather);
    }
    if (gather.minBytes <= 1) return fetch.call(this, nodeId);
    let byNode = modes.get(this);
    if (byNode === undefined) modes.set(this, (byNode = new Map()));
    // Set just before the call that reads them. Fetchers of two brokers may cross here; either wait is safe,
    // and what a fetch returns decides the next one from its broker.
    const mode = byNode.get(nodeId) ?? gather;
    this.minBytes = mode.minBytes;
    this.maxWaitTime = mode.maxWaitMs;
    const batches = await fetch.call(this, nodeId);
    byNode.set(nodeId, nextFetch(gather, batches));
    return batches;
  };
}

let installed = false;

/**
 * A gathering consumer (FetchGathering) would otherwise ask every `maxWaitMs` for as long as nothing comes:
 * with exactly once, each order and email instance 40 times a second, which cost the idle chain about a
 * quarter of a core (README, "How the consumers work"). Patches kafkajs' ConsumerGroup; a no-op after the first
 * call. kafkaClientConfig installs it.
 */
export function installIdleFetches(): void {
  if (installed) return;
  // Node's own require (in a webpack bundle, `require` is webpack's), where kafkajs loads its modules.
  const ConsumerGroup = createRequire(__filename)('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupFetch };
  ConsumerGroup.prototype.fetch = adaptiveFetch(ConsumerGroup.prototype.fetch);
  installed = true;
}
