import { randomUUID } from 'node:crypto';
import { Injectable, Logger, ServiceUnavailableException, UnprocessableEntityException } from '@nestjs/common';
import { cartTotal, TOPICS, type CartItemDto, type PaymentRequestDto, type SettledPayment } from '@app/contracts';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { EventPublisher } from '@app/kafka';
import { METRICS } from '@app/platform';
import { IdempotencyKeys, requestHash, type KeyClaim } from './idempotency-keys';

/** The course's answer (`status`, `message`, `user_id`, `cart`), with the payment's id and amount. */
export interface PaymentAccepted {
  status: 'success';
  message: string;
  user_id: number;
  cart: CartItemDto[];
  payment_id: string;
  amount: number;
}

@Injectable()
export class PaymentService {
  private readonly logger = new Logger(PaymentService.name);

  constructor(
    private readonly publisher: EventPublisher,
    private readonly keys: IdempotencyKeys,
    @InjectMetric(METRICS.paymentAmount) private readonly revenue: Counter,
  ) {}

  /**
   * Publishes the payment and answers only once the broker has acknowledged it. A 503 comes only after the send
   * has settled, so nothing is left queued to go out later; a send that timed out may still have reached the
   * broker, though, and a retry with the same Idempotency-Key publishes the same payment id again, which the
   * order service stores once. A key whose payment was acknowledged publishes nothing more.
   */
  async accept(request: PaymentRequestDto, idempotencyKey?: string): Promise<PaymentAccepted> {
    const cart = request.cart.map(({ name, price, quantity }) => ({ name, price, quantity }));
    let paymentId: string = randomUUID();
    if (idempotencyKey !== undefined) {
      const claim = await this.claim(idempotencyKey, request.user_id, cart, paymentId);
      paymentId = claim.paymentId;
      if (claim.outcome === 'retry' && claim.published) return accepted(request.user_id, cart, paymentId);
    }
    const payment: SettledPayment = {
      payment_id: paymentId,
      user_id: request.user_id,
      cart,
      amount: cartTotal(cart),
      timestamp: Math.floor(Date.now() / 1000),
    };
    try {
      await this.publisher.publish(TOPICS.paymentSuccessful, { key: String(payment.user_id), value: payment });
    } catch (error) {
      this.logger.error(`payment for user ${payment.user_id} not published: ${(error as Error).message}`);
      throw new ServiceUnavailableException(
        'The payment was not accepted: the event broker did not confirm it. Retry later with the same Idempotency-Key header to be sure it is taken exactly once.',
      );
    }
    this.revenue.inc(payment.amount);
    this.logger.log({ payment_id: payment.payment_id, user_id: payment.user_id, amount: payment.amount }, `payment ${payment.payment_id} accepted`);
    if (idempotencyKey !== undefined) {
      // Not noted, a retry publishes the payment again: the same id, one order all the same.
      await this.keys.published(idempotencyKey, paymentId).catch((error: Error) => {
        this.logger.warn(`Idempotency-Key ${idempotencyKey}: payment ${paymentId} published but not noted as such: ${error.message}`);
      });
    }
    return accepted(payment.user_id, cart, paymentId);
  }

  private async claim(key: string, userId: number, cart: CartItemDto[], paymentId: string): Promise<Exclude<KeyClaim, { outcome: 'conflict' }>> {
    let claim: KeyClaim;
    try {
      claim = await this.keys.claim(key, requestHash(userId, cart), paymentId);
    } catch (error) {
      this.logger.error(`Idempotency-Key ${key} not checked: ${(error as Error).message}`);
      throw new ServiceUnavailableException('The payment was not accepted: its Idempotency-Key could not be checked. Retry later with the same key.');
    }
    if (claim.outcome === 'conflict') {
      throw new UnprocessableEntityException(
        `Idempotency-Key ${key} was already used for another payment (another user or cart): send a new payment with a new key`,
      );
    }
    return claim;
  }
}

function accepted(userId: number, cart: CartItemDto[], paymentId: string): PaymentAccepted {
  return { status: 'success', message: 'Payment accepted', user_id: userId, cart, payment_id: paymentId, amount: cartTotal(cart) };
}
