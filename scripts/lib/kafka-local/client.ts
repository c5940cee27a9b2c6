import { Kafka, logLevel } from 'kafkajs';
// The config module alone: the tools need not load Nest to talk to the broker.
import { kafkaClientConfig } from '@app/kafka/kafka-config';
import { brokersFromEnv } from './settings';

/**
 * The kafkajs client every tool (flood, lag, topics, dlq, poison, npm start, the tests and the benchmark)
 * uses: the services' connection settings, without kafkajs' log noise on the terminal.
 */
export function toolKafka(clientId: string, brokers: string[] = brokersFromEnv()): Kafka {
  return new Kafka({ ...kafkaClientConfig(brokers, clientId), logLevel: logLevel.NOTHING });
}

/** Whether a broker at these addresses answers a metadata request within the time given. */
export async function brokerAnswers(brokers: string[], timeoutMs = 3000): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'broker-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(1000, timeoutMs),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  }).admin();
  let timer: NodeJS.Timeout | undefined;
  // kafkajs' connect and request timeouts apply per step; the race bounds the whole probe instead.
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const probe = (async () => {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  })().catch(() => false);
  try {
    return await Promise.race([probe, deadline]);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Whether this one node answers: kafkajs' connect asks the seed broker (the only one given) for the cluster's
 * metadata. brokerAnswers' describeCluster may ask any node of the cluster, a dead one included.
 */
export async function nodeAnswers(address: string, timeoutMs = 2000): Promise<boolean> {
  const admin = new Kafka({ clientId: 'node-probe', brokers: [address], logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: timeoutMs, retry: { retries: 0 } }).admin();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([admin.connect().then(() => true, () => false), deadline]);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
}
