import { queryDatabase } from '../../scripts/lib/postgres';
import { testDatabaseUrl } from './environment';

/** Reads the test database directly, for what no endpoint shows in bulk (which instance made which order). */
export function queryTestDatabase<Row>(text: string, values: unknown[] = []): Promise<Row[]> {
  return queryDatabase<Row>(testDatabaseUrl(), text, values);
}
