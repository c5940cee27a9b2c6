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

  it('looks up a few stored keys in the index instead of reading the whole table', async () => {
    const table = 'insert_once_check.lookups';
    // One connection for everything, so that the statistics it flushes on request are all there is to see.
    const single = await Database.open({ url: testDatabaseUrl(), schema: 'insert_once_check', migrationsDir: migrations, poolSize: 1 });
    try {
      await single.query(`CREATE TABLE ${table} (item_key text PRIMARY KEY, label text NOT NULL)`);
      // Enough rows that the planner would scan the table for any number of keys it cannot count (it assumes
      // 100 for the JSON input), few enough that it scans rather than probes on any usual page cost.
      await single.query(`INSERT INTO ${table} SELECT 'bulk-' || i, 'stored' FROM generate_series(1, 3000) AS i`);
      await single.query(`ANALYZE ${table}`);
      await single.query('SELECT pg_stat_force_next_flush()');
      const scans = async () => {
        const [row] = await single.query<{ seq: string; rows: string; idx: string }>(
          `SELECT seq_scan AS seq, seq_tup_read AS rows, coalesce(idx_scan, 0) AS idx FROM pg_stat_user_tables WHERE relid = $1::regclass`,
          [table],
        );
        return { seq: Number(row.seq), rows: Number(row.rows), idx: Number(row.idx) };
      };
      const before = await scans();
      const stored = await single.insertOnceMany({ ...SPEC, table }, [
        { item_key: 'bulk-777', label: 'again' },
        { item_key: 'fresh', label: 'new' },
      ]);
      expect(stored).toEqual([
        { item_key: 'bulk-777', label: 'stored' },
        { item_key: 'fresh', label: 'new' },
      ]);
      await single.query('SELECT pg_stat_force_next_flush()');
      // The statement's own index lookups showing up is what proves its statistics have arrived.
      const after = await waitFor(async () => {
        const now = await scans();
        return now.idx > before.idx ? now : undefined;
      }, {
        timeoutMs: 15_000,
        what: 'the statement\'s index lookups in pg_stat_user_tables',
      });
      expect({ seq: after.seq - before.seq, rows: after.rows - before.rows }).toEqual({ seq: 0, rows: 0 });
    } finally {
      await single.onApplicationShutdown();
    }
  });
});
