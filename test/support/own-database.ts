import { join } from 'node:path';
import { Database } from '@app/platform';
import { databaseUrlFromEnv, dropDatabase } from '../../scripts/lib/postgres';
import { REPO_ROOT } from '../../scripts/lib/services';

/**
 * A database of a unit spec's own, for the SQL of one service run against the real server: the e2e suites
 * recreate theirs while unit specs run, and two runs (or two specs in parallel workers) must not share one.
 */
export class OwnDatabase {
  readonly url: string;
  private db?: Database;

  constructor(name: string) {
    const url = new URL(databaseUrlFromEnv());
    url.pathname = `${url.pathname}_${name}_${process.pid}`;
    this.url = url.toString();
  }

  /** Creates the database and runs the service's real migrations on its schema. */
  async open(service: 'payment' | 'order' | 'email' | 'analytics', schema: string = service): Promise<Database> {
    this.db = await Database.open({ url: this.url, schema, migrationsDir: join(REPO_ROOT, 'apps', service, 'src', 'migrations') });
    return this.db;
  }

  /** Closes the pool and drops the database, so that no run leaves one behind. */
  async close(): Promise<void> {
    await this.db?.onApplicationShutdown();
    await dropDatabase(this.url);
  }
}
