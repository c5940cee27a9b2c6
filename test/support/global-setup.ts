// Jest loads global setup and teardown outside its module system, so the @app/* paths need resolving here.
import 'tsconfig-paths/register';
import { ensureTopics } from '@app/kafka';
import { brokerAnswers } from '../../scripts/lib/kafka-local';
import { recreateDatabase } from '../../scripts/lib/postgres';
import { startServices, stopServices, type ServiceProcess } from '../../scripts/lib/services';
import type { Server } from 'node:http';
import { startHarness } from './harness';
import { testBrokers, testChainSpecs, testDatabaseUrl, testServiceEnv } from './environment';
import { chainQuiet, requireChainGroupsFree, withAdmin } from './kafka';

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
    await requireChainGroupsFree(admin);
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
