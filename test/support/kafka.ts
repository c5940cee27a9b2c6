import { CONSUMER_GROUPS, GROUP_TOPICS } from '@app/contracts';
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

/**
 * Refuses to go on while the chain's consumer groups have members on the broker (`npm start` consuming there):
 * the suites need the groups to themselves. Waits a while first: a broker that has just started may not have
 * loaded its group coordinator yet (NOT_COORDINATOR), and one restarted after an interrupted run still lists
 * that run's members until their sessions (10 s) expire.
 */
export async function requireChainGroupsFree(admin: Admin, timeoutMs = 25_000): Promise<void> {
  const free = await waitFor(async () => {
    const { groups } = await admin.describeGroups(Object.values(CONSUMER_GROUPS));
    return groups.every((g) => g.members.length === 0);
  }, { timeoutMs, intervalMs: 500, what: 'the consumer groups of the chain to have no members' }).catch(() => false);
  if (!free) {
    throw new Error('the consumer groups of the chain already have members on this broker (is `npm start` running?): stop them first, the tests need the groups to themselves');
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
 * A group's lag on each partition of a topic, read from the broker's own offsets (the end less the committed
 * one; nothing committed counts from 0), independently of the services' lag reports.
 */
export async function brokerLags(admin: Admin, group: string, topic: string): Promise<Map<number, bigint>> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map(
    ends.map(({ partition, high }) => {
      const offset = BigInt(committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
      return [partition, BigInt(high) - (offset < 0n ? 0n : offset)];
    }),
  );
}

/** Whether a group has committed every record of the topics it reads, by the broker's own offsets. */
export async function caughtUp(admin: Admin, group: string, topics: string[]): Promise<boolean> {
  for (const topic of topics) {
    for (const lag of (await brokerLags(admin, group, topic)).values()) if (lag > 0n) return false;
  }
  return true;
}

/**
 * Waits until every group of the chain has committed everything, read from the broker's own offsets (not the
 * product's lag code). An event is produced before, or with, the offset of the record that caused it, so the
 * groups are checked in the chain's order in one pass: order caught up, then email (which has seen all that
 * order wrote), then analytics. All caught up in one pass means nothing is in flight anywhere in the chain.
 */
export function chainQuiet(): Promise<void> {
  const chain = [CONSUMER_GROUPS.order, CONSUMER_GROUPS.email, CONSUMER_GROUPS.analytics];
  return withAdmin(async (admin) => {
    await waitFor(
      async () => {
        for (const group of chain) if (!(await caughtUp(admin, group, GROUP_TOPICS[group]))) return false;
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: 'the chain to be quiet (every group caught up, by the broker\'s offsets)' },
    );
  });
}
