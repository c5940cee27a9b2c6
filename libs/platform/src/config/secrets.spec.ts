import { redactUrl, Secrets } from './secrets';

describe('redactUrl', () => {
  it('replaces the password and keeps the rest of the URL', () => {
    expect(redactUrl('postgres://shop:s3cr3t@db.example:5432/blackfriday')).toBe('postgres://shop:***@db.example:5432/blackfriday');
    expect(redactUrl('smtps://mailer:p%40ss@mail.example:465')).toBe('smtps://mailer:***@mail.example:465');
  });

  it('leaves a URL without a password as it is', () => {
    expect(redactUrl('postgres://postgres@127.0.0.1:5432/blackfriday')).toBe('postgres://postgres@127.0.0.1:5432/blackfriday');
  });

  it("replaces pg's ?password= too", () => {
    expect(redactUrl('postgres://shop@db.example/blackfriday?password=s3cr3t&sslmode=require')).toBe('postgres://shop@db.example/blackfriday?password=***&sslmode=require');
  });

  it('shows nothing of a value that is not a URL with a // part', () => {
    expect(redactUrl('user:s3cr3t at nowhere')).toBe('(not a valid URL)');
    expect(redactUrl('smtp:mailer:s3cr3t@mail.example')).toBe('(not a valid URL)');
    expect(redactUrl('postgres://shop:s3cr3t@db.example:99999/x')).toBe('(not a valid URL)');
  });
});

describe('Secrets', () => {
  const secrets = Secrets.of({
    DATABASE_URL: 'postgres://shop:db%2Fpass%40word@db.example/blackfriday',
    SMTP_URL: 'smtp://mailer:smtp-pass@mail.example:587',
    READ_TOKEN: 'read-token-0123456789',
  });

  it('blanks each password as written, decoded and re-encoded, and the read token', () => {
    const text = 'db%2Fpass%40word db/pass@word smtp-pass read-token-0123456789';
    expect(secrets.redact(text)).toBe('*** *** *** ***');
  });

  it("blanks pg's ?password= as well", () => {
    expect(Secrets.of({ DATABASE_URL: 'postgres://shop@db.example/x?password=a%20b' }).redact('a b|a%20b')).toBe('***|***');
  });

  it('blanks every string of a JSON value, keys included', () => {
    expect(secrets.redactDeep({ status: 'error', details: { database: { message: 'no db/pass@word', codes: [1, 'smtp-pass'] } } })).toEqual({
      status: 'error',
      details: { database: { message: 'no ***', codes: [1, '***'] } },
    });
  });

  it('leaves text alone when no setting holds a secret', () => {
    const none = Secrets.of({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/blackfriday', SMTP_URL: '', READ_TOKEN: undefined });
    expect(none.redact('postgres://postgres@127.0.0.1:5432/blackfriday')).toBe('postgres://postgres@127.0.0.1:5432/blackfriday');
  });
});
