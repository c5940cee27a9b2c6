import { Secrets } from '../config/secrets';
import { RedactingLogger } from './redacting-logger';

describe('RedactingLogger', () => {
  const secrets = Secrets.of({ DATABASE_URL: 'postgres://shop:db-s3cr3t@db.example/x', READ_TOKEN: 'read-token-0123456789' });
  let printed: string;
  let spies: jest.SpyInstance[];

  beforeEach(() => {
    printed = '';
    const capture = (chunk: string | Uint8Array) => {
      printed += String(chunk).replace(/\x1b\[[0-9;]*m/g, ''); // without colours
      return true;
    };
    spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
  });
  afterEach(() => spies.forEach((spy) => spy.mockRestore()));

  it('blanks secrets in messages, objects and stacks, and prints the rest', () => {
    const logger = new RedactingLogger(secrets, ['log', 'error']);
    logger.log('connecting to postgres://shop:db-s3cr3t@db.example/x', 'Database');
    logger.error({ config: { password: 'db-s3cr3t' } });
    logger.error('failed', 'Error: token read-token-0123456789 refused\n    at somewhere', 'Database');
    expect(printed).toContain('connecting to postgres://shop:***@db.example/x');
    expect(printed).toContain("password: '***'");
    expect(printed).toContain('Error: token *** refused');
    expect(printed).not.toMatch(/db-s3cr3t|read-token-0123456789/);
  });
});
