import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Client, DatabaseError, Pool, type PoolClient, type QueryResultRow } from 'pg';
import { RecordFault } from '@app/contracts';
import { runner } from 'node-pg-migrate';
import { redactUrl } from '../config/secrets';
import { isConnectionRefused, postgresUnavailableMessage } from './postgres-help';

export interface DatabaseOptions {
  url: string;
  /** The service's own schema; migrations create it. */
  schema: string;
  /** Folder of `.sql` migrations (node-pg-migrate format). */
  migrationsDir: string;
  poolSize?: number;
  /** PostgreSQL's statement_timeout on the pool's connections (not on the migrations' own); none when unset. */
  statementTimeoutMs?: number;
}

export interface InsertOnceSpec {
  /** Schema-qualified table. */
  table: string;
  /** The columns inserted, each with its SQL type. */
  columns: Record<string, string>;
  /** The unique column that makes a row "already stored". */
  key: string;
  /** The columns returned. */
  returning: string;
}

/**
 * The database refused a record's data as data (SQLSTATE class 22, data exception, or 23, integrity constraint
 * violation): the record is at fault, and retrying cannot help. Any other refusal (a missing table, a
 * permission, a timeout, a read-only server) is the infrastructure's, and stays a plain error to be retried.
 */
export class DataRejected extends RecordFault {
  override name = 'DataRejected';
  override readonly reason = 'data_rejected';

  constructor(override readonly cause: DatabaseError) {
    super(`the database rejected the data (SQLSTATE ${cause.code}): ${cause.message}`);
  }
}

/** Re-throws a refusal of the data as DataRejected; everything else as it is. */
export function classifyDatabaseError(error: unknown): never {
  if (error instanceof DatabaseError && /^2[23]/.test(error.code ?? '')) throw new DataRejected(error);
  throw error;
}

/** Raised when no PostgreSQL server answers: the message says how to start one. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

/** A service's PostgreSQL pool. Closed on application shutdown, which Nest runs after consumers stop. */
export class Database implements OnApplicationShutdown {
  private readonly logger = new Logger(Database.name);
  private readonly statementNames = new Map<string, string>();

  private constructor(
    readonly pool: Pool,
    readonly schema: string,
  ) {
    // An idle client losing its server must not crash the process: the next query reports the error.
    pool.on('error', (error) => this.logger.warn(`idle PostgreSQL connection failed: ${error.message}`));
  }

  /** Creates the database if missing, migrates the schema under an advisory lock, and opens the pool. */
  static async open(options: DatabaseOptions): Promise<Database> {
    await ensureDatabaseExists(options.url);
    await migrate(options);
    const pool = new Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5000,
      statement_timeout: options.statementTimeoutMs,
    });
    return new Database(pool, options.schema);
  }

  /**
   * `prepared`: a statement run often, which each connection then parses and plans once. One of the consumers'
   * hot path costs about half as much so (bench/NOTES.md).
   */
  async query<Row extends QueryResultRow>(text: string, values?: unknown[], prepared = false): Promise<Row[]> {
    const result = await this.pool.query<Row>({ text, values, name: prepared ? this.statementName(text) : undefined }).catch(classifyDatabaseError);
    return result.rows;
  }

  /** A name of its own for each text prepared (pg holds a name to one text). */
  private statementName(text: string): string {
    let name = this.statementNames.get(text);
    if (name === undefined) this.statementNames.set(text, (name = `prepared-${this.statementNames.size + 1}`));
    return name;
  }

  /** One page of a table, newest first, optionally for one user: the list endpoints of every service. */
  async page<Row extends QueryResultRow>(
    table: string,
    columns: string,
    orderBy: string,
    query: { limit: number; offset: number; user_id?: number },
  ): Promise<{ rows: Row[]; total: number }> {
    const where = '($1::int IS NULL OR user_id = $1)';
    const userId = query.user_id ?? null;
    const [rows, [{ count }]] = await Promise.all([
      this.query<Row>(`SELECT ${columns} FROM ${table} WHERE ${where} ORDER BY ${orderBy} LIMIT $2 OFFSET $3`, [
        userId,
        query.limit,
        query.offset,
      ]),
      this.query<{ count: string }>(`SELECT count(*) FROM ${table} WHERE ${where}`, [userId]),
    ]);
    return { rows, total: Number(count) };
  }

  /**
   * Inserts many rows in one statement, skipping each whose `key` is already stored, and returns for every
   * input row the stored one, new or existing, in the input's order: the "store once" step of a consumer
   * that may see a record again. Rows travel as one JSON parameter, whatever their number.
   */
  async insertOnceMany<Row extends QueryResultRow>(spec: InsertOnceSpec, rows: readonly object[]): Promise<Row[]> {
    const names = Object.keys(spec.columns).join(', ');
    const types = Object.entries(spec.columns)
      .map(([name, type]) => `${name} ${type}`)
      .join(', ');
    const input = `SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (${types})) WITH ORDINALITY AS t(${names}, input_n)`;
    // The keys also travel as an array: the planner knows how many there are, and looks a few up in the key's
    // index. Matched against the recordset, whose size it cannot see (it assumes 100 rows), it scanned the whole
    // table for every statement, however few keys, while the table held fewer than some 25,000 rows.
    const keyType = spec.columns[spec.key];
    if (!keyType) throw new Error(`${spec.table}: the key ${spec.key} is not among the inserted columns`);
    const existing = `SELECT ${spec.returning} FROM ${spec.table} WHERE ${spec.key} = ANY($2::${keyType}[])`;
    const keysOf = (some: readonly object[]) => some.map((row) => (row as Record<string, unknown>)[spec.key]);
    const byInput = `SELECT input.input_n, stored.* FROM input JOIN stored ON stored.${spec.key} = input.${spec.key} ORDER BY input.input_n`;
    const stored = await this.query<Row & { input_n: string }>(
      `WITH input AS (${input}),
            inserted AS (
              INSERT INTO ${spec.table} (${names}) SELECT ${names} FROM input
              ON CONFLICT (${spec.key}) DO NOTHING RETURNING ${spec.returning}
            ),
            -- The second half sees the table as it was when the statement began: each key comes from one half.
            stored AS (SELECT ${spec.returning} FROM inserted UNION ALL ${existing})
       ${byInput}`,
      [JSON.stringify(rows), keysOf(rows)],
      true,
    );
    const result: Array<Row | undefined> = rows.map(() => undefined);
    for (const { input_n, ...row } of stored) result[Number(input_n) - 1] = row as unknown as Row;
    // A row another transaction committed after the statement began was skipped by the insert and is not in
    // its snapshot: read those again, now that they are visible.
    const late = rows.flatMap((row, i) => (result[i] ? [] : [{ row, i }]));
    if (late.length > 0) {
      const lateRows = late.map(({ row }) => row);
      const found = await this.query<Row & { input_n: string }>(`WITH input AS (${input}), stored AS (${existing}) ${byInput}`, [
        JSON.stringify(lateRows),
        keysOf(lateRows),
      ], true);
      for (const { input_n, ...row } of found) result[late[Number(input_n) - 1].i] = row as unknown as Row;
    }
    const missing = result.filter((row) => row === undefined).length;
    if (missing > 0) throw new Error(`${spec.table}: ${missing} of ${rows.length} rows neither inserted nor found`);
    return result as Row[];
  }

  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      classifyDatabaseError(error);
    } finally {
      client.release();
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    if (isConnectionRefused(error)) {
      throw new DatabaseUnavailableError(postgresUnavailableMessage(url, (error as { code: string }).code));
    }
    throw error;
  }
}

async function ensureDatabaseExists(url: string): Promise<void> {
  try {
    await (await connect(url)).end();
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') throw error;
    const target = new URL(url);
    const name = decodeURIComponent(target.pathname.slice(1));
    target.pathname = '/postgres';
    const admin = await connect(target.toString());
    try {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      new Logger(Database.name).log(`created database ${redactUrl(url)}`);
    } catch (createError) {
      // Another service created it at the same moment.
      if (!['42P04', '23505'].includes((createError as { code?: string }).code ?? '')) throw createError;
    } finally {
      await admin.end();
    }
  }
}

async function migrate(options: DatabaseOptions): Promise<void> {
  const client = await connect(options.url);
  const lockKey = `migrate:${options.schema}`;
  try {
    // Instances of one service start together: one migrates, the others wait and find nothing to do.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
    await runner({
      dbClient: client,
      dir: options.migrationsDir,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      migrationsSchema: options.schema,
      schema: options.schema,
      noLock: true,
      checkOrder: true,
      log: () => undefined,
    });
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
    await client.end();
  }
}
