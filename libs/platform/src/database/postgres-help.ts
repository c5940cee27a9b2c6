import { redactUrl } from '../config/secrets';

/** The one message that says how to get a PostgreSQL server, for services and scripts alike. */
export function postgresUnavailableMessage(databaseUrl: string, cause: string): string {
  const where = redactUrl(databaseUrl);
  return [
    `PostgreSQL does not answer at ${where} (${cause}).`,
    'Start one, then try again:',
    '  - with Docker:   docker compose -f docker/docker-compose.yml up -d postgres',
    '  - on this host:  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    '  - or point DATABASE_URL at a server you have.',
  ].join('\n');
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET']);

export function isConnectionRefused(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return typeof code === 'string' && CONNECTION_ERRORS.has(code);
}
