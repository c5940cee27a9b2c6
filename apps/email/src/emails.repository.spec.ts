import { DatabaseError } from 'pg';
import { Database, DataRejected } from '@app/platform';
import { EmailsRepository } from './emails.repository';

// Jest 29's fake timers leave node:timers/promises alone: its sleep is routed through the global setTimeout,
// which they do replace, so the waits between attempts pass in fake time.
jest.mock('node:timers/promises', () => ({
  setTimeout: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
}));

const EMAIL_ID = '5a0c9a43-8f5e-4f0e-9a43-8f5e4f0e9a43';

/**
 * A database whose "mark sent" UPDATE throws the given errors, one per attempt, then answers as PostgreSQL would:
 * the emails it was given, marked sent. Only `query` is used by marking sent.
 */
function databaseFailing(...errors: Error[]) {
  const updates: number[] = [];
  const query = jest.fn(async (text: string, values: unknown[]) => {
    if (!text.trimStart().startsWith('UPDATE email.emails')) throw new Error(`unexpected statement: ${text}`);
    updates.push(Date.now());
    const error = errors.shift();
    if (error) throw error;
    const sent = JSON.parse(values[0] as string) as Array<{ email_id: string; message_id: string; transport_output: string | null }>;
    return sent.map((s) => ({
      ...s,
      order_id: '0e9a435a-0c9a-4f0e-8f5e-4f0e9a435a0c',
      user_id: 1,
      email_to: 'customer@example.com',
      subject: 'Your order',
      body: 'Thank you',
      status: 'sent',
      created_at: new Date('2025-11-28T10:00:00Z'),
      sent_at: new Date(),
    }));
  });
  return { db: { query } as unknown as Database, updates };
}

const outage = () => new Error('Connection terminated unexpectedly');

/** How `promise` settled once fake time ran well past every wait between attempts (1.2 s in all). */
async function settledInFakeTime<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  let outcome: { value?: T; error?: unknown } | undefined;
  promise.then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  await jest.advanceTimersByTimeAsync(10_000);
  // Were a wait real (the mock above not applied), the outcome would still be pending here.
  if (!outcome) throw new Error('markSent did not settle in fake time');
  return outcome;
}

describe('marking a sent email as sent', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('outlasts a database outage of a moment, so the email is not sent a second time on redelivery', async () => {
    const { db, updates } = databaseFailing(outage(), outage(), outage());
    const repository = new EmailsRepository(db);

    const { value, error } = await settledInFakeTime(repository.markSent(EMAIL_ID, '<id@mail>', '250 OK'));

    expect(error).toBeUndefined();
    expect(value).toMatchObject({ email_id: EMAIL_ID, status: 'sent', message_id: '<id@mail>', transport_output: '250 OK' });
    expect(updates).toHaveLength(4);
    // Spread over time, not four attempts in the same instant of the outage.
    expect(updates[3] - updates[0]).toBeGreaterThanOrEqual(1000);
  });

  it('gives up with the database error when the outage lasts, so the record is retried later', async () => {
    const { db, updates } = databaseFailing(outage(), outage(), outage(), outage());
    const repository = new EmailsRepository(db);

    const { error } = await settledInFakeTime(repository.markSent(EMAIL_ID, '<id@mail>', '250 OK'));

    expect(error).toEqual(outage());
    expect(updates).toHaveLength(4);
  });

  it('does not retry data the database refuses, which no retry can change', async () => {
    // A NUL in the transport's output: PostgreSQL refuses it in jsonb (SQLSTATE 22P05) on every attempt.
    const refusal = Object.assign(new DatabaseError('unsupported Unicode escape sequence', 0, 'error'), { code: '22P05' });
    const { db, updates } = databaseFailing(new DataRejected(refusal));
    const repository = new EmailsRepository(db);

    const { error } = await settledInFakeTime(repository.markSent(EMAIL_ID, '<id@mail>', '250 OK\u0000'));

    expect(error).toBeInstanceOf(DataRejected);
    expect(updates).toHaveLength(1);
  });
});
