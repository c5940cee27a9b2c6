import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (no longer maintained) asks a broker which node coordinates a group or a transactional id
 * (FindCoordinator) before every step that speaks to the coordinator: a transaction that also commits offsets
 * asks four times (AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn), 4 of its 9 requests, and an
 * admin asks before every offset read. Kafka's Java client keeps the coordinator it found until a request shows
 * it has moved (an answer saying "not the coordinator", or the connection failing), and so does this cache.
 *
 * Counted over the benchmark's 20-user drain (bench/NOTES.md): 1,047 FindCoordinator requests for 254
 * transactions without it (9.6 requests a transaction), 12 for 480 with it (5.5 a transaction).
 */

/** The broker's answers saying the node asked is not, or no longer, the coordinator. */
const MOVED = new Set(['GROUP_COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR_FOR_GROUP']);
/** A connection failing: whatever its node coordinated may be elsewhere when it comes back. */
const CONNECTION_FAILED = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError']);

/** Whether `error`, from any request, means coordinators found before may have moved. */
export function coordinatorMayHaveMoved(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { type, name } = error as { type?: unknown; name?: unknown };
  return (typeof type === 'string' && MOVED.has(type)) || (typeof name === 'string' && CONNECTION_FAILED.has(name));
}

export interface CoordinatorLookup {
  groupId: string;
  coordinatorType?: number;
}

/** The parts of kafkajs' Cluster the cache wraps. */
export interface CoordinatorFinder {
  /** Asks a broker (FindCoordinator); the answer names the coordinator's node. */
  findGroupCoordinatorMetadata(lookup: CoordinatorLookup): Promise<unknown>;
  /** The above, then the node's broker (connected); retries, refreshing the metadata, when it is not known. */
  findGroupCoordinator(lookup: CoordinatorLookup): Promise<unknown>;
}

/** The parts of kafkajs' Connection every request goes through, and that connects it. */
export interface RequestSender {
  send(request: unknown): Promise<unknown>;
  connect(): Promise<unknown>;
}

/**
 * The coordinators found, per client (kafkajs gives each producer, consumer and admin a Cluster of its own),
 * until anything suggests one moved: then all are asked for again, which costs one request each.
 */
export class CoordinatorCache {
  private epoch = 0;
  private readonly found = new WeakMap<object, Map<string, { answer: unknown; epoch: number }>>();

  get(client: object, lookup: CoordinatorLookup): unknown {
    const entry = this.found.get(client)?.get(keyOf(lookup));
    return entry && entry.epoch === this.epoch ? entry.answer : undefined;
  }

  put(client: object, lookup: CoordinatorLookup, answer: unknown): void {
    let entries = this.found.get(client);
    if (!entries) this.found.set(client, (entries = new Map()));
    entries.set(keyOf(lookup), { answer, epoch: this.epoch });
  }

  forgetAll(): void {
    this.epoch++;
  }
}

const keyOf = (lookup: CoordinatorLookup) => `${lookup.coordinatorType ?? 0}:${lookup.groupId}`;

/** Wraps the classes' methods so that coordinators are found once and asked for again only when they may have moved. */
export function cacheCoordinators(Cluster: { prototype: CoordinatorFinder }, Connection: { prototype: RequestSender }, cache = new CoordinatorCache()): CoordinatorCache {
  const findMetadata = Cluster.prototype.findGroupCoordinatorMetadata;
  Cluster.prototype.findGroupCoordinatorMetadata = async function (this: CoordinatorFinder, lookup: CoordinatorLookup) {
    const known = cache.get(this, lookup);
    if (known !== undefined) return known;
    const answer = await findMetadata.call(this, lookup);
    cache.put(this, lookup, answer);
    return answer;
  };
  const find = Cluster.prototype.findGroupCoordinator;
  Cluster.prototype.findGroupCoordinator = async function (this: CoordinatorFinder, lookup: CoordinatorLookup) {
    try {
      return await find.call(this, lookup);
    } catch (error) {
      // The node named is not known or not reachable (kafkajs gave up after refreshing its metadata).
      cache.forgetAll();
      throw error;
    }
  };
  const forgetIfMoved = (error: unknown) => {
    if (coordinatorMayHaveMoved(error)) cache.forgetAll();
    throw error;
  };
  const send = Connection.prototype.send;
  Connection.prototype.send = function (this: RequestSender, request: unknown) {
    return send.call(this, request).catch(forgetIfMoved);
  };
  // A coordinator's node that went away fails at connecting, before any request: kafkajs' next try asks anew.
  const connect = Connection.prototype.connect;
  Connection.prototype.connect = function (this: RequestSender) {
    return connect.call(this).catch(forgetIfMoved);
  };
  return cache;
}

let installed = false;

/** Caches kafkajs' coordinators; a no-op after the first call. kafkaClientConfig installs it. */
export function installCoordinatorCache(): void {
  if (installed) return;
  // Node's own require (in a webpack bundle, `require` is webpack's), where kafkajs loads its modules.
  const nodeRequire = createRequire(__filename);
  const Cluster = nodeRequire('kafkajs/src/cluster/index.js') as { prototype: CoordinatorFinder };
  const Connection = nodeRequire('kafkajs/src/network/connection.js') as { prototype: RequestSender };
  cacheCoordinators(Cluster, Connection);
  installed = true;
}
