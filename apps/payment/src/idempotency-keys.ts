import { createHash } from 'node:crypto';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { CartItemDto } from '@app/contracts';
import { Database } from '@app/platform';

/** How long a key stands for its payment. After that the same key makes a new payment. */
export const KEY_LIFETIME_HOURS = 24;
const PURGE_EVERY_MS = 10 * 60 * 1000;

/** What a key says about a request that carries it. */
export type KeyClaim =
  /** The key was free (or expired): this request owns it, with this payment id. */
  | { outcome: 'new'; paymentId: string }
  /** The same request came with this key before: its payment, and whether the broker acknowledged it. */
  | { outcome: 'retry'; paymentId: string; published: boolean }
  /** Another request (another user or cart) holds the key. */
  | { outcome: 'conflict' };

/**
 * SHA-256 of the request as validated (unknown fields dropped, quantities defaulted), written in one fixed
 * order: `{"price": 1}` and `{"quantity": 1, "price": 1.0}` are the same request, another user or cart is not.
 */
export function requestHash(userId: number, cart: readonly CartItemDto[]): string {
  const canonical = JSON.stringify({ user_id: userId, cart: cart.map(({ name, price, quantity }) => ({ name, price, quantity })) });
  return createHash('sha256').update(canonical).digest('hex');
}

/** The payment service's only state: `payment.idempotency_keys`, one row per key (see its migration). */
@Injectable()
export class IdempotencyKeys implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyKeys.name);
  private purgeTimer?: NodeJS.Timeout;

  constructor(private readonly db: Database) {}

  /**
   * Binds the key to this request, or reads what it is bound to. The insert is the decision: of two requests
   * racing with one key, the primary key lets one row in, and the other reads it. A row past its lifetime is
   * replaced in the same statement, as if it were not there.
   */
  async claim(key: string, hash: string, newPaymentId: string): Promise<KeyClaim> {
    // Twice at most: the row found in conflict can be purged before it is read, and the key is then free again.
    for (let attempt = 0; attempt < 2; attempt++) {
      const inserted = await this.db.query<{ payment_id: string }>(
        `INSERT INTO payment.idempotency_keys (key, request_sha256, payment_id) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE
           SET request_sha256 = EXCLUDED.request_sha256, payment_id = EXCLUDED.payment_id, published_at = NULL, created_at = clock_timestamp()
           WHERE idempotency_keys.created_at < clock_timestamp() - make_interval(hours => $4)
         RETURNING payment_id`,
        [key, hash, newPaymentId, KEY_LIFETIME_HOURS],
      );
      if (inserted.length > 0) return { outcome: 'new', paymentId: newPaymentId };
      const [held] = await this.db.query<{ request_sha256: string; payment_id: string; published: boolean }>(
        'SELECT request_sha256, payment_id, published_at IS NOT NULL AS published FROM payment.idempotency_keys WHERE key = $1',
        [key],
      );
      if (!held) continue;
      if (held.request_sha256 !== hash) return { outcome: 'conflict' };
      return { outcome: 'retry', paymentId: held.payment_id, published: held.published };
    }
    throw new Error(`Idempotency-Key ${key} was neither free nor held`);
  }

  /** The broker acknowledged the key's payment: a retry from now on publishes nothing. */
  async published(key: string, paymentId: string): Promise<void> {
    await this.db.query('UPDATE payment.idempotency_keys SET published_at = clock_timestamp() WHERE key = $1 AND payment_id = $2', [key, paymentId]);
  }

  /** Expired rows no longer count (claim replaces them); the purge only keeps the table small. */
  async purgeExpired(): Promise<number> {
    const removed = await this.db.query<{ key: string }>(
      'DELETE FROM payment.idempotency_keys WHERE created_at < clock_timestamp() - make_interval(hours => $1) RETURNING key',
      [KEY_LIFETIME_HOURS],
    );
    return removed.length;
  }

  onModuleInit(): void {
    this.purgeTimer = setInterval(() => {
      this.purgeExpired().catch((error: Error) => this.logger.warn(`expired Idempotency-Keys not purged: ${error.message}`));
    }, PURGE_EVERY_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
  }
}
