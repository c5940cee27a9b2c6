import { Writable } from 'node:stream';
import type { LogLevel } from '@nestjs/common';
import { Logger as NestPinoLogger, LoggerModule, PinoLogger as NestPino, type Params } from 'nestjs-pino';
import pino, { type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import pinoPretty from 'pino-pretty';
import type { Secrets } from '../config/secrets';
import { currentCorrelation } from './correlation';

export type { PinoLogger };

/** Nest's level names (LOG_LEVEL) as pino's. */
const PINO_LEVELS: Record<LogLevel, LevelWithSilent> = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

export function pinoLevel(level: LogLevel): LevelWithSilent {
  return PINO_LEVELS[level];
}

/** Routes that are asked all the time and tell nothing about a payment: no access log line for them. */
const QUIET_ROUTES = /^\/(health|metrics|live|docs)(\/|\?|-|$)/;

export interface ServiceLoggerOptions {
  service: string;
  instanceId: string;
  secrets: Secrets;
  /** Readable lines (pino-pretty) instead of JSON; by default when the output is a terminal. */
  pretty?: boolean;
  /** Where the lines go: standard output by default. */
  write?: (line: string) => void;
}

let root: PinoLogger | undefined;

/**
 * The service's one logger: a JSON object per line, with the service, its instance and, while a Kafka record is
 * handled, the record's place and its request id. Every line passes through the secrets' redaction before it
 * is written, whatever field holds it. Nest, nestjs-pino (HTTP) and kafkajs all log through it.
 */
export function createServiceLogger(options: ServiceLoggerOptions): PinoLogger {
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const redacting = new Writable({
    write(chunk: Buffer, _encoding, done) {
      write(options.secrets.redact(chunk.toString()));
      done();
    },
  });
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  const destination = pretty
    ? pinoPretty({ destination: redacting, sync: true, colorize: options.write === undefined, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service,instance' })
    : redacting;
  root = pino(
    {
      base: { service: options.service, instance: options.instanceId, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // While a Kafka record is handled: its request id and where it is, on every line its handling logs. (An
      // HTTP request's id comes from pino-http, on the lines of the request.)
      mixin() {
        const correlation = currentCorrelation();
        if (correlation?.source !== 'kafka') return {};
        const { source: _source, ...fields } = correlation;
        return fields;
      },
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '***' },
    },
    destination,
  );
  return root;
}

/** The logger createServiceLogger made for this process, if any (scripts have none). */
export function serviceLogger(): PinoLogger | undefined {
  return root;
}

/**
 * nestjs-pino over the service's logger: Nest's own lines and every `new Logger(context)` as JSON, and one
 * access line per HTTP request (not for /health, /metrics, /live, /docs), with its `request_id`.
 */
export function loggerParams(logger: PinoLogger): Params {
  return {
    pinoHttp: {
      logger,
      // correlationMiddleware has set it from X-Request-Id; the lines of the request carry it.
      genReqId: (req) => String((req as { id?: unknown }).id ?? ''),
      quietReqLogger: true,
      customAttributeKeys: { reqId: 'request_id' },
      autoLogging: { ignore: (req) => QUIET_ROUTES.test(req.url ?? '') },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      serializers: {
        req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
      },
    },
    renameContext: 'context',
  };
}

export function loggerModule(params: Params) {
  return LoggerModule.forRoot(params);
}

/** Nest's LoggerService over the same logger, for Nest itself and `new Logger(context)` before the app exists. */
export function nestLogger(params: Params): NestPinoLogger {
  return new NestPinoLogger(new NestPino(params), params);
}
