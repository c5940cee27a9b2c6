// class-transformer's @Type reads decorator metadata: the polyfill must load before this class.
import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min, validateSync } from 'class-validator';
import { flattenValidationErrors } from '@app/contracts';
import { redactUrl } from './secrets';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/blackfriday';
const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
const DELIVERY_MODES = ['exactly-once', 'at-least-once'] as const;
const CONSUMER_ORDERS = ['key', 'partition'] as const;

/** Every setting a service reads, with its default; validated once at boot. */
export class Environment {
  /** Comma-separated host:port list. */
  @IsString()
  @Matches(/^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/, {
    message: 'KAFKA_BROKERS must be a comma-separated list of host:port',
  })
  KAFKA_BROKERS = '127.0.0.1:9092';

  @IsString()
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL = DEFAULT_DATABASE_URL;

  /**
   * PostgreSQL's statement_timeout on every pooled connection: a statement stuck on a lock or a failing disk is
   * cancelled, and its record retried, instead of holding its partition and the service's stop.
   */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  DATABASE_STATEMENT_TIMEOUT_MS = 10_000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  PORT!: number;

  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,32}$/, { message: 'INSTANCE_ID must be 1 to 32 letters, digits, _ or -' })
  INSTANCE_ID = '1';

  /** Simulated slow step in the order handler (the course's database write): a wait, not CPU. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(300_000)
  PROCESSING_DELAY_MS = 0;

  /**
   * Unset, every payment waits PROCESSING_DELAY_MS; set (comma-separated user ids), only the payments of those
   * users do: a slow customer, to watch a slow key hold only itself.
   */
  @IsOptional()
  @IsString()
  @Matches(/^\d{1,10}(,\d{1,10})*$/, { message: 'PROCESSING_DELAY_USERS must be a comma-separated list of user ids' })
  PROCESSING_DELAY_USERS?: string;

  /**
   * key: records of different keys side by side, each key's in offset order. partition: one record at a time per
   * partition, as Nest's own transport and the course's consumer do (the course's experiment sets it).
   */
  @IsIn(CONSUMER_ORDERS)
  CONSUMER_ORDER: (typeof CONSUMER_ORDERS)[number] = 'key';

  /**
   * Most records a consuming instance runs at once, over all its partitions (key order). High enough for a slow
   * step that waits (PROCESSING_DELAY_MS, a call to another system) to overlap across many keys.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100_000)
  CONSUMER_MAX_IN_FLIGHT = 1000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  TOPIC_PARTITIONS = 3;

  /**
   * How long a record that fails for a reason that is not its own (an outage, a bug) is retried before it is
   * parked in its DLQ as retriable.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(7 * 24 * 3600 * 1000)
  RETRY_MAX_MS = 5 * 60 * 1000;

  /**
   * exactly-once: what a consumer publishes (events, dead letters) and the offsets it consumed go in one Kafka
   * transaction.
   * at-least-once: events leave at once and offsets are committed every 200 ms; a crash repeats some events.
   */
  @IsIn(DELIVERY_MODES)
  DELIVERY: (typeof DELIVERY_MODES)[number] = 'exactly-once';

  @IsOptional()
  @IsUrl({ protocols: ['smtp', 'smtps'], require_tld: false, require_protocol: true })
  SMTP_URL?: string;

  /**
   * Set, the read endpoints (customers' orders, emails, statistics) require `Authorization: Bearer <token>`;
   * unset, they are open, for local use.
   */
  @IsOptional()
  @Matches(/^[\x21-\x7e]{16,}$/, { message: 'READ_TOKEN must be at least 16 printable characters, without spaces' })
  READ_TOKEN?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'log';

  get kafkaBrokers(): string[] {
    return this.KAFKA_BROKERS.split(',');
  }

  /** How long the order step of a user's payment waits (PROCESSING_DELAY_MS, for PROCESSING_DELAY_USERS if set). */
  processingDelayFor(userId: number): number {
    if (this.PROCESSING_DELAY_MS === 0 || this.PROCESSING_DELAY_USERS === undefined) return this.PROCESSING_DELAY_MS;
    this.delayedUsers ??= new Set(this.PROCESSING_DELAY_USERS.split(',').map(Number));
    return this.delayedUsers.has(userId) ? this.PROCESSING_DELAY_MS : 0;
  }

  private delayedUsers?: Set<number>;
}

/** A bad setting: the message names each variable and the value it had. */
export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

/** Validates the process environment over the service's defaults; throws ConfigurationError. */
export function loadEnvironment(raw: Record<string, unknown>, defaults: Partial<Environment> = {}): Environment {
  const given = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined && value !== ''));
  const env = plainToInstance(Environment, { ...defaults, ...given }, { exposeDefaultValues: true });
  const errors = validateSync(env, { whitelist: true });
  if (errors.length > 0) {
    throw new ConfigurationError(
      flattenValidationErrors(errors).map(
        ({ field, messages }) => `${messages.join(', ')} (got ${shown(field, raw[field])})`,
      ),
    );
  }
  return env;
}

/** A bad value as the configuration error shows it: a URL without its password, never the read token. */
function shown(field: string, value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (field === 'READ_TOKEN') return `${String(value).length} characters`;
  if (field === 'DATABASE_URL' || field === 'SMTP_URL') return JSON.stringify(redactUrl(String(value)));
  return JSON.stringify(value);
}

/** Which service and instance this process is; fixed by its main.ts, not by the environment. */
export class ServiceIdentity {
  constructor(
    readonly name: 'payment' | 'order' | 'email' | 'analytics',
    readonly instanceId: string,
  ) {}

  /** Kafka client id: distinct per instance so the broker and Kafka UI can tell members apart. */
  get clientId(): string {
    return `${this.name}-${this.instanceId}`;
  }
}
