import { describeLag, totalLag } from '@app/kafka';
import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import { toolKafka } from '../../scripts/lib/kafka-local';
import { waitFor } from '../../scripts/lib/wait';
import { testBrokers } from './environment';

/** A kafkajs client for tests that write to or read from topics directly (poison, duplicates, DLQ). */
export function testKafka(clientId = 'e2e-tests', brokers = testBrokers()): Kafka {
  return toolKafka(clientId, brokers);
}

export async function withAdmin<T>(work: (admin: Admin) => Promise<T>, brokers = testBrokers()): Promise<T> {
  const admin = testKafka('e2e-tests', brokers).admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

export async function connectedProducer(): Promise<Producer> {
  const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return producer;
}

/** Sum of the end offsets of a topic: grows by one for every record written to it. */
export async function endOffsetSum(topic: string): Promise<bigint> {
  return withAdmin(async (admin) =>
    (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + BigInt(p.high), 0n),
  );
}

/**
 * Waits until every group of the chain has consumed everything: an event is produced before the record that
 * caused it is committed, so all lags at zero means nothing is left in flight anywhere in the chain.
 */
export function chainQuiet(): Promise<void> {
  return withAdmin(async (admin) => {
    await waitFor(async () => totalLag(await describeLag(admin)) === 0, { timeoutMs: 120_000, intervalMs: 250, what: 'the chain to be quiet (every lag 0)' });
  });
}
