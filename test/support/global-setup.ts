// Jest loads global setup and teardown outside its module system, so the @app/* paths need resolving here.
import 'tsconfig-paths/register';
import { CONSUMER_GROUPS } from '@app/contracts';
import { ensureTopics } from '@app/kafka';
import { brokerAnswers } from '../../scripts/lib/kafka-local';
import { recreateDatabase } from '../../scripts/lib/postgres';
import { startServices, stopServices, type ServiceProcess } from '../../scripts/lib/services';
import type { Server } from 'node:http';
import { waitFor } from '../../scripts/lib/wait';
import { startHarness } from './harness';
import { testBrokers, testChainSpecs, testDatabaseUrl, testServiceEnv } from './environment';
import { chainQuiet, withAdmin } from './kafka';

declare global {
  // Shared with global-teardown, which runs in the same context.
  var __TEST_CHAIN__: ServiceProcess[] | undefined;
  var __TEST_HARNESS__: Server | undefined;
}

/**
 * Starts the whole chain as real processes (built by `npm test` beforehand) against the real broker and an
 * empty test database, and waits until every consumer group has caught up, so suites start from quiet.
 */
export default async function globalSetup(): Promise<void> {
  if (!(await brokerAnswers(testBrokers()))) {
    throw new Error(`no Kafka broker answers at ${testBrokers().join(',')}: run the suite with \`npm test\`, which starts one`);
  }
  await recreateDatabase(testDatabaseUrl());
  await withAdmin(async (admin) => {
    await ensureTopics(admin, 3);
    // A broker that has just started may not have loaded its group coordinator yet (NOT_COORDINATOR), and one
    // restarted after an interrupted run still lists that run's members until their sessions (10 s) expire.
    const free = await waitFor(async () => {
      const { groups } = await admin.describeGroups(Object.values(CONSUMER_GROUPS));
      return groups.every((g) => g.members.length === 0);
    }, { timeoutMs: 25_000, intervalMs: 500, what: 'the consumer groups of the chain to have no members' }).catch(() => false);
    if (!free) {
      throw new Error('the consumer groups of the chain already have members on this broker (is `npm start` running?): stop them first, the tests need the groups to themselves');
    }
  });
  const logs = process.env.E2E_LOGS === '1' ? (label: string, line: string) => console.log(`[${label}] ${line}`) : undefined;
  const chain = await startServices(testChainSpecs(), testServiceEnv(), logs);
  globalThis.__TEST_CHAIN__ = chain;
  try {
    await chainQuiet();
  } catch (error) {
    await stopServices(chain);
    throw error;
  }
  globalThis.__TEST_HARNESS__ = await startHarness(chain, testServiceEnv(), logs);
}
