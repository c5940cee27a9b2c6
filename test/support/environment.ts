import { brokersFromEnv } from '../../scripts/lib/kafka-local';
import { databaseUrlFromEnv } from '../../scripts/lib/postgres';
import { chainSpecs, type ServiceSpec } from '../../scripts/lib/services';

/** The test chain listens 10000 ports above the dev chain, so `npm test` and `npm start` can coexist. */
export const TEST_PORT_OFFSET = 10_000;

/** Tests own a database of their own beside the dev one, recreated empty at every run. */
export function testDatabaseUrl(): string {
  const url = new URL(databaseUrlFromEnv());
  url.pathname = `${url.pathname.replace(/_test$/, '')}_test`;
  return url.toString();
}

export function testBrokers(): string[] {
  return brokersFromEnv();
}

export function testServiceEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KAFKA_BROKERS: testBrokers().join(','),
    DATABASE_URL: testDatabaseUrl(),
    LOG_LEVEL: 'log',
  };
}

export function testChainSpecs(): ServiceSpec[] {
  return chainSpecs(TEST_PORT_OFFSET);
}

export function urlOf(service: ServiceSpec['service'] | `order-${number}`): string {
  const spec = testChainSpecs().find((s) => s.label === service || (service === 'order' && s.label === 'order-1'));
  if (!spec) throw new Error(`no test service ${service}`);
  return `http://127.0.0.1:${spec.port}`;
}
