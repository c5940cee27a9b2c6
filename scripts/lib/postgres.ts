import { Client } from 'pg';
import { DEFAULT_DATABASE_URL } from '@app/platform/config/environment';
import { Secrets } from '@app/platform/config/secrets';
import { isConnectionRefused, postgresUnavailableMessage } from '@app/platform/database/postgres-help';

export { DEFAULT_DATABASE_URL };

export function databaseUrlFromEnv(): string {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** Connects to the server's maintenance database: proves PostgreSQL answers, whatever database is named. */
async function maintenanceClient(databaseUrl: string): Promise<Client> {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 3000 });
  await client.connect();
  return client;
}

/** Stops the calling script at once, with how to start a server, when no PostgreSQL answers. */
export async function requirePostgres(databaseUrl: string): Promise<void> {
  try {
    await (await maintenanceClient(databaseUrl)).end();
  } catch (error) {
    // pg's message names the user and the database; should a driver ever quote the password, it is blanked.
    const cause = isConnectionRefused(error) ? (error as { code: string }).code : Secrets.of({ DATABASE_URL: databaseUrl }).redact((error as Error).message);
    console.error(postgresUnavailableMessage(databaseUrl, cause));
    process.exit(1);
  }
}

/** The database the URL names, quoted as an SQL identifier. */
function quotedDatabaseName(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  return `"${name.replace(/"/g, '""')}"`;
}

/** Drops and recreates the database named in the URL: each test run starts from empty schemas. */
export async function recreateDatabase(databaseUrl: string): Promise<void> {
  const quoted = quotedDatabaseName(databaseUrl);
  const client = await maintenanceClient(databaseUrl);
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoted}`);
  } finally {
    await client.end();
  }
}

/** Drops the database named in the URL, if it exists: for a test that made one of its own. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const client = await maintenanceClient(databaseUrl);
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quotedDatabaseName(databaseUrl)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** One query on its own connection: for tools and tests that read a database now and then. */
export async function queryDatabase<Row>(databaseUrl: string, text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as Row[];
  } finally {
    await client.end();
  }
}
