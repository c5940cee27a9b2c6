import type { KafkaOptions } from '@nestjs/microservices';
import { connect } from 'node:net';
import { Partitioners, type ISocketFactory, type KafkaConfig, type ProducerConfig } from 'kafkajs';
import { registerCompressionCodecs } from './codecs';
import { installCoordinatorCache } from './coordinator-cache';
import { installIdleConnectionFix } from './idle-connections';
import { IDLE_FETCH, installIdleFetches } from './idle-fetches';
import { installUndecodableBatchGuard } from './undecodable-batches';
import { kafkajsLogCreator } from './kafka-logging';

/**
 * Sockets with Nagle's algorithm off, as Kafka's own Java client opens them (kafkajs leaves it on): a request
 * is written whole and should leave at once, not wait for the previous one to be acknowledged.
 */
const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
  const socket = connect({ host, port }, onConnect);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60_000);
  return socket;
};

/**
 * Client settings shared by every connection to the broker. Retries are short on purpose: a request that
 * cannot reach the broker fails within seconds so callers (POST /payment) can answer 503 instead of hanging.
 */
export function kafkaClientConfig(brokers: string[], clientId: string): KafkaConfig {
  registerCompressionCodecs();
  installUndecodableBatchGuard();
  installIdleConnectionFix();
  installIdleFetches();
  installCoordinatorCache();
  const logCreator = kafkajsLogCreator();
  return {
    clientId,
    brokers,
    socketFactory,
    // In a service, kafkajs logs through its logger (absent, Nest's Kafka transport would nest them as text).
    ...(logCreator ? { logCreator } : {}),
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
  };
}

export const producerConfig: ProducerConfig = {
  // The Java client's murmur2 partitioner: a user's events land on the same partition whichever client sent them.
  createPartitioner: Partitioners.DefaultPartitioner,
  allowAutoTopicCreation: false,
};

export interface ConsumerServerSettings {
  brokers: string[];
  clientId: string;
  groupId: string;
  /** Partitions handled at once by this instance (each partition's batch keeps per-key order). */
  concurrency: number;
  /** Unset, a fetch answers as soon as one record is there. */
  gather?: FetchGathering;
}

/**
 * A fetch that waits for records to gather: the broker answers once `minBytes` are there or `maxWaitMs` has
 * passed. What the records of one fetch cost together (a statement, a transaction) is then shared by more of
 * them at a trickle; in a burst the bytes are there at once and nothing waits. After a quiet second the consumer
 * waits for the first record instead (idle-fetches.ts), so idle it does not ask every `maxWaitMs`.
 */
export interface FetchGathering {
  minBytes: number;
  maxWaitMs: number;
}

/**
 * For a consumer at the end of the chain, which nobody waits on (analytics): at a trickle each event would be
 * a statement and a database commit of its own. The live page refreshes every second.
 */
export const SINK_GATHERING: FetchGathering = { minBytes: 64 * 1024, maxWaitMs: 250 };

/**
 * For a hop whose records leave in transactions (exactly once): a transaction costs the broker several
 * milliseconds of CPU whatever it holds, so at a trickle the records of a few milliseconds share one, as Kafka
 * Streams' commit interval does (100 ms there). At a steady 200/s on 2 cores it saved the broker and the
 * database CPU; its effect on the p99 was within the machine's noise in alternating runs (bench/NOTES.md).
 */
export const TRANSACTION_GATHERING: FetchGathering = { minBytes: 64 * 1024, maxWaitMs: 25 };

/**
 * Options for Nest's Kafka server (one consumer per service). `postfixId: ''` keeps the group id exactly
 * as DESIGN.md names it; Nest would otherwise append `-server`.
 */
export type KafkaServerOptions = NonNullable<KafkaOptions['options']>;

export function consumerServerOptions(settings: ConsumerServerSettings): KafkaServerOptions {
  return {
    postfixId: '',
    client: kafkaClientConfig(settings.brokers, settings.clientId),
    consumer: {
      groupId: settings.groupId,
      allowAutoTopicCreation: false,
      // A member that dies without leaving is noticed within 10 s; live members heartbeat every second.
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 30_000,
      // Unless the consumer gathers, a fetch answers at the first record, or after IDLE_FETCH's wait when idle.
      maxWaitTimeInMs: (settings.gather ?? IDLE_FETCH).maxWaitMs,
      minBytes: (settings.gather ?? IDLE_FETCH).minBytes,
      retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: 5 },
    },
    producer: producerConfig,
    // A new group starts at the beginning, so payments sent before the first order instance are not skipped.
    subscribe: { fromBeginning: true },
    // The consume engine commits what is done itself (see commits.ts): kafkajs's own auto-commit would commit
    // its fetch position, past records still running.
    run: { partitionsConsumedConcurrently: settings.concurrency, autoCommit: false },
    // Handlers decode the bytes themselves, so poison (bad JSON, tombstones) is seen, not guessed at.
    parser: { keepBinary: true },
  };
}
