import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { Database, type InsertOnceSpec } from '@app/platform';
import { waitFor } from '../scripts/lib/wait';
import { testDatabaseUrl } from './support/environment';

const SPEC: InsertOnceSpec = {
  table: 'insert_once_check.items',
  columns: { item_key: 'text', label: 'text' },
  key: 'item_key',
  returning: 'item_key, label',
};

/** Database.insertOnceMany, the "store once" step of every consumer, against the real server. */
describe('storing many rows once', () => {
  let db: Database;
  let migrations: string;

  beforeAll(async () => {
    migrations = mkdtempSync(join(tmpdir(), 'insert-once-'));
    writeFileSync(join(migrations, '1_items.sql'), '-- Up Migration\nCREATE TABLE items (item_key text PRIMARY KEY, label text NOT NULL);\n');
    db = await Database.open({ url: testDatabaseUrl(), schema: 'insert_once_check', migrationsDir: migrations });
  });

  afterAll(async () => {
    await db?.onApplicationShutdown();
    rmSync(migrations, { recursive: true, force: true });
  });

  it('returns, in input order, the new rows and the ones already stored, once per key', async () => {
    await db.insertOnceMany(SPEC, [{ item_key: 'old', label: 'first' }]);
    const rows = await db.insertOnceMany(SPEC, [
      { item_key: 'new', label: 'a' },
      { item_key: 'old', label: 'second' },
      { item_key: 'new', label: 'b' },
    ]);
    expect(rows).toEqual([
      { item_key: 'new', label: 'a' },
      { item_key: 'old', label: 'first' },
      { item_key: 'new', label: 'a' },
    ]);
  });

  it('finds a row another transaction committed while the insert was waiting for it', async () => {
    const other = new Client({ connectionString: testDatabaseUrl() });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO ${SPEC.table} VALUES ('raced', 'theirs')`);
      // The insert takes its snapshot now and then waits on the other transaction's uncommitted key.
      const storing = db.insertOnceMany(SPEC, [
        { item_key: 'raced', label: 'ours' },
        { item_key: 'calm', label: 'ours' },
      ]);
      await waitFor(
        async () => (await other.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%insert_once_check.items%'`)).rowCount === 1,
        { timeoutMs: 10_000, intervalMs: 20, what: 'the insert to wait for the other transaction' },
      );
      await other.query('COMMIT');
      expect(await storing).toEqual([
        { item_key: 'raced', label: 'theirs' },
        { item_key: 'calm', label: 'ours' },
      ]);
    } finally {
      await other.end();
    }
  });
});
