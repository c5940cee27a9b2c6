import { ConfigurationError, loadEnvironment } from './environment';

function problems(raw: Record<string, string>): string {
  try {
    loadEnvironment(raw, { PORT: 8000 });
  } catch (error) {
    if (error instanceof ConfigurationError) return error.message;
    throw error;
  }
  return '';
}

describe('loadEnvironment', () => {
  it('applies the defaults of DESIGN.md and the service', () => {
    const env = loadEnvironment({}, { PORT: 8001 });
    expect(env).toMatchObject({ PORT: 8001, KAFKA_BROKERS: '127.0.0.1:9092', INSTANCE_ID: '1', PROCESSING_DELAY_MS: 0, CONSUMER_ORDER: 'key', TOPIC_PARTITIONS: 3 });
    expect(env.kafkaBrokers).toEqual(['127.0.0.1:9092']);
  });

  it('reads numbers from the environment', () => {
    expect(loadEnvironment({ PORT: '8004', PROCESSING_DELAY_MS: '100', KAFKA_BROKERS: 'a:1,b:2' })).toMatchObject({ PORT: 8004, PROCESSING_DELAY_MS: 100 });
  });

  it('names every bad variable and the value it had', () => {
    const message = problems({ PORT: 'eighty', TOPIC_PARTITIONS: '0', KAFKA_BROKERS: 'localhost', DATABASE_URL: 'mysql://x', SMTP_URL: 'nope' });
    // One line per variable, the name with its own value and what it must be; nothing else.
    expect(message.split('\n').sort()).toEqual([
      '  - DATABASE_URL must be a postgres:// URL (got "mysql://x")',
      '  - KAFKA_BROKERS must be a comma-separated list of host:port (got "localhost")',
      '  - PORT must be an integer number (got "eighty")',
      // An unparsable URL is not echoed: it may hold a password in a form no parser can find.
      '  - SMTP_URL must be a URL address (got "(not a valid URL)")',
      '  - TOPIC_PARTITIONS must not be less than 1 (got "0")',
      'Invalid configuration:',
    ]);
  });

  it("takes the course's one record at a time per partition only when asked, whatever the slow step", () => {
    expect(loadEnvironment({ PROCESSING_DELAY_MS: '100' }, { PORT: 1 }).CONSUMER_ORDER).toBe('key');
    expect(loadEnvironment({ CONSUMER_ORDER: 'partition' }, { PORT: 1 }).CONSUMER_ORDER).toBe('partition');
    expect(problems({ CONSUMER_ORDER: 'random' })).toContain('CONSUMER_ORDER must be one of the following values: key, partition (got "random")');
  });

  it('slows the payments of PROCESSING_DELAY_USERS only, when it is set, and every payment otherwise', () => {
    const some = loadEnvironment({ PROCESSING_DELAY_MS: '100', PROCESSING_DELAY_USERS: '7,2000000000' }, { PORT: 1 });
    expect([7, 2_000_000_000, 8].map((user) => some.processingDelayFor(user))).toEqual([100, 100, 0]);
    const all = loadEnvironment({ PROCESSING_DELAY_MS: '100' }, { PORT: 1 });
    expect([7, 8].map((user) => all.processingDelayFor(user))).toEqual([100, 100]);
    expect(problems({ PROCESSING_DELAY_USERS: '7;8' })).toContain('PROCESSING_DELAY_USERS must be a comma-separated list of user ids (got "7;8")');
  });

  it('takes CONSUMER_MAX_IN_FLIGHT between 1 and 100,000, 1,000 by default', () => {
    expect(loadEnvironment({}, { PORT: 1 }).CONSUMER_MAX_IN_FLIGHT).toBe(1000);
    expect(loadEnvironment({ CONSUMER_MAX_IN_FLIGHT: '50' }, { PORT: 1 }).CONSUMER_MAX_IN_FLIGHT).toBe(50);
    expect(problems({ CONSUMER_MAX_IN_FLIGHT: '0' })).toContain('CONSUMER_MAX_IN_FLIGHT must not be less than 1 (got "0")');
  });

  it('treats an empty variable as unset', () => {
    expect(loadEnvironment({ INSTANCE_ID: '' }, { PORT: 1 }).INSTANCE_ID).toBe('1');
  });

  it('never shows a password or the read token in its message', () => {
    const message = problems({ DATABASE_URL: 'mysql://shop:db-s3cr3t@db.example/x', SMTP_URL: 'http://mailer:smtp-s3cr3t@mail.example', READ_TOKEN: 'short secret' });
    expect(message).toContain('DATABASE_URL must be a postgres:// URL (got "mysql://shop:***@db.example/x")');
    expect(message).toMatch(/SMTP_URL .*"http:\/\/mailer:\*\*\*@mail\.example\/?"/);
    expect(message).toContain('READ_TOKEN must be at least 16 printable characters, without spaces (got 12 characters)');
    for (const secret of ['db-s3cr3t', 'smtp-s3cr3t', 'short secret']) expect(message).not.toContain(secret);
  });

  it('takes a read token of 16 printable characters or more', () => {
    expect(loadEnvironment({ READ_TOKEN: 'abcdefghijklmnop' }, { PORT: 1 }).READ_TOKEN).toBe('abcdefghijklmnop');
    expect(loadEnvironment({}, { PORT: 1 }).READ_TOKEN).toBeUndefined();
  });
});
