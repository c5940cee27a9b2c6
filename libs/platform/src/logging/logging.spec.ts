import { Secrets } from '../config/secrets';
import { withCorrelation } from './correlation';
import { createServiceLogger, pinoLevel } from './logging';

describe('createServiceLogger', () => {
  const secrets = Secrets.of({ DATABASE_URL: 'postgres://shop:db-"s3cr3t@db.example/x', READ_TOKEN: 'read-token-0123456789' });
  const capture = (pretty = false) => {
    const lines: string[] = [];
    const logger = createServiceLogger({ service: 'order', instanceId: '2', secrets, pretty, write: (line) => lines.push(line) });
    return { logger, lines };
  };

  it('writes one JSON object a line, with the service, its instance, an ISO time and a level name', () => {
    const { logger, lines } = capture();
    logger.info({ payment_id: 'p-1' }, 'payment accepted');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      service: 'order',
      instance: '2',
      pid: process.pid,
      payment_id: 'p-1',
      msg: 'payment accepted',
    });
  });

  it("adds, while a Kafka record is handled, the record's place and request id to every line", () => {
    const { logger, lines } = capture();
    withCorrelation({ source: 'kafka', request_id: 'req-7', topic: 'payment-successful', partition: 1, offset: '42' }, () => logger.warn('slow'));
    withCorrelation({ source: 'http', request_id: 'req-8' }, () => logger.info('outside a record'));
    logger.info('outside everything');
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ msg: 'slow', request_id: 'req-7', topic: 'payment-successful', partition: 1, offset: '42' }),
      // An HTTP request's id comes from pino-http's child logger, not from here: never twice on a line.
      expect.not.objectContaining({ request_id: expect.anything() }),
      expect.not.objectContaining({ request_id: expect.anything() }),
    ]);
  });

  it('blanks secrets wherever they are, JSON-escaped ones included, and the authorization header', () => {
    const { logger, lines } = capture();
    logger.error({ err: new Error('connect to postgres://shop:db-"s3cr3t@db.example/x refused') }, 'database down');
    logger.info({ config: { token: 'read-token-0123456789' } }, 'settings');
    logger.info({ req: { headers: { authorization: 'Bearer anything' } } }, 'request');
    const text = lines.join('');
    expect(lines).toHaveLength(3);
    expect(text).not.toMatch(/s3cr3t|read-token-0123456789|Bearer anything/);
    expect(JSON.parse(lines[0]).err.message).toBe('connect to postgres://shop:***@db.example/x refused');
    expect(JSON.parse(lines[2]).req.headers.authorization).toBe('***');
  });

  it('drops lines under its level, set from LOG_LEVEL', () => {
    const { logger, lines } = capture();
    logger.level = pinoLevel('warn');
    logger.info('not shown');
    logger.warn('shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
    expect(pinoLevel('log')).toBe('info');
    expect(pinoLevel('verbose')).toBe('trace');
  });

  it('prints readable lines instead when asked (a terminal)', () => {
    const { logger, lines } = capture(true);
    logger.info({ payment_id: 'p-1' }, 'payment accepted');
    expect(lines.join('')).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: payment accepted\n\s+payment_id: "p-1"/);
  });
});
