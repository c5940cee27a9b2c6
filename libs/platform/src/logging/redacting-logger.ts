import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { Secrets } from '../config/secrets';

/**
 * Nest's console logger with the process's secrets blanked out of every line and stack it prints. Every
 * `Logger` of the service goes through it, Nest's own and kafkajs's (Nest's Kafka server logs through Nest),
 * so an error that quotes a URL with its password is caught where it is printed, whoever raised it.
 */
export class RedactingLogger extends ConsoleLogger {
  constructor(
    private readonly secrets: Secrets,
    logLevels?: LogLevel[],
  ) {
    super({ logLevels });
  }

  protected override formatMessage(
    logLevel: LogLevel,
    message: unknown,
    pidMessage: string,
    formattedLogLevel: string,
    contextMessage: string,
    timestampDiff: string,
  ): string {
    return this.secrets.redact(super.formatMessage(logLevel, message, pidMessage, formattedLogLevel, contextMessage, timestampDiff));
  }

  protected override printStackTrace(stack: string): void {
    super.printStackTrace(stack && this.secrets.redact(stack));
  }
}
