import { logLevel, type logCreator } from 'kafkajs';
import { serviceLogger } from '@app/platform';

const METHODS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs's own lines through the service's logger, as JSON objects of their own (`component: "kafkajs"`, its
 * namespace, and its fields: groupId, memberId, error, …), not text nested in another line. Undefined outside
 * a service (the scripts), where kafkajs keeps its own console logger or is silenced.
 */
export function kafkajsLogCreator(): logCreator | undefined {
  const root = serviceLogger();
  if (!root) return undefined;
  const logger = root.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _kafkajs, ...fields } = log;
      logger[METHODS[level] ?? 'info']({ namespace, ...fields }, message);
    };
}
