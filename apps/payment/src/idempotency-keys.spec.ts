import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Database } from '@app/platform';
import { OwnDatabase } from '../../../test/support/own-database';
import { IdempotencyKeys, KEY_LIFETIME_HOURS, requestHash } from './idempotency-keys';

const database = new OwnDatabase('idem');

describe('requestHash', () => {
  const cart = [{ name: 'TV', price: 10, quantity: 1 }];

  it('is the same for the same validated request, whatever order its fields came in', () => {
    expect(requestHash(1, [{ quantity: 1, price: 10.0, name: 'TV' }])).toBe(requestHash(1, cart));
  });

  it('differs for another user, another item, quantity or price, and another order of items', () => {
    const first = requestHash(1, cart);
    expect(requestHash(2, cart)).not.toBe(first);
    expect(requestHash(1, [{ ...cart[0], name: 'Radio' }])).not.toBe(first);
    expect(requestHash(1, [{ ...cart[0], quantity: 2 }])).not.toBe(first);
    expect(requestHash(1, [{ ...cart[0], price: 10.01 }])).not.toBe(first);
    const two = [cart[0], { name: 'Radio', price: 5, quantity: 1 }];
    expect(requestHash(1, [...two].reverse())).not.toBe(requestHash(1, two));
  });
});

/** IdempotencyKeys against the real server, on the payment schema its migrations make. */
describe('purging expired Idempotency-Keys', () => {
  let db: Database;
  let keys: IdempotencyKeys;
  const hash = requestHash(1, [{ name: 'TV', price: 10, quantity: 1 }]);

  /** One key per age, created `minutes` before the database's clock, each bound to a payment of its own: key → payment id. */
  async function insertAged(ages: Record<string, number>): Promise<Record<string, string>> {
    const payments: Record<string, string> = {};
    for (const [key, minutes] of Object.entries(ages)) {
      payments[key] = randomUUID();
      await db.query(
        `INSERT INTO payment.idempotency_keys (key, request_sha256, payment_id, published_at, created_at)
         VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp() - make_interval(mins => $4))`,
        [key, hash, payments[key], minutes],
      );
    }
    return payments;
  }

  const keysLeft = async () => (await db.query<{ key: string }>('SELECT key FROM payment.idempotency_keys ORDER BY key')).map((r) => r.key);

  beforeAll(async () => {
    db = await database.open('payment');
    keys = new IdempotencyKeys(db);
  });

  afterAll(async () => {
    await database.close();
  });

  beforeEach(() => db.query('DELETE FROM payment.idempotency_keys'));

  it('keeps every key younger than 24 hours, so a retry within that time gets its payment back instead of a second charge', async () => {
    const lifetime = KEY_LIFETIME_HOURS * 60;
    // A minute either side of the lifetime: the DELETE runs a moment after the inserts, on the same clock.
    const payments = await insertAged({ 'age-1h': 60, 'age-23h59m': lifetime - 1, 'age-24h01m': lifetime + 1, 'age-3d': 3 * 24 * 60 });

    expect(await keys.purgeExpired()).toBe(2);
    expect(await keysLeft()).toEqual(['age-1h', 'age-23h59m']);

    // The customer retries POST /payment with a key 23 h 59 min old: the same payment, nothing charged again.
    expect(await keys.claim('age-23h59m', hash, randomUUID())).toEqual({ outcome: 'retry', paymentId: payments['age-23h59m'], published: true });
    // A purged key is free: the same key, a day later, makes a new payment.
    const fresh = randomUUID();
    expect(await keys.claim('age-24h01m', hash, fresh)).toEqual({ outcome: 'new', paymentId: fresh });
  });

  it('purges nothing while every key is younger than 24 hours', async () => {
    await insertAged({ 'age-0': 0, 'age-1h': 60, 'age-23h59m': KEY_LIFETIME_HOURS * 60 - 1 });

    expect(await keys.purgeExpired()).toBe(0);
    expect(await keysLeft()).toEqual(['age-0', 'age-1h', 'age-23h59m']);
  });
});

/** docs/http-api.md promises expired rows are purged every 10 minutes: the table stays small without anyone's help. */
describe('the Idempotency-Key purge schedule', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('purges every 10 minutes from start-up, and no more once the service stops', async () => {
    jest.useFakeTimers();
    // No database here: only when the purge runs is in question (what it deletes is tested above).
    const keys = new IdempotencyKeys({} as Database);
    const purge = jest.spyOn(keys, 'purgeExpired').mockResolvedValue(0);

    keys.onModuleInit();
    await jest.advanceTimersByTimeAsync(10 * 60_000 - 1);
    expect(purge).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(purge).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(20 * 60_000);
    expect(purge).toHaveBeenCalledTimes(3);

    keys.onModuleDestroy();
    await jest.advanceTimersByTimeAsync(60 * 60_000);
    expect(purge).toHaveBeenCalledTimes(3);
  });

  it('keeps purging after a purge failed (the database was away for a moment), and tells the operator', async () => {
    jest.useFakeTimers();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const keys = new IdempotencyKeys({} as Database);
    const purge = jest.spyOn(keys, 'purgeExpired').mockRejectedValueOnce(new Error('Connection terminated unexpectedly')).mockResolvedValue(0);

    keys.onModuleInit();
    await jest.advanceTimersByTimeAsync(20 * 60_000);
    keys.onModuleDestroy();
    expect(purge).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('Connection terminated unexpectedly'));
  });
});
