import { randomUUID } from 'node:crypto';
import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { cartTotal, TOPICS, type PaymentRequestDto, type SettledPayment } from '@app/contracts';
import { EventPublisher } from '@app/kafka';

export interface PaymentAccepted {
  payment_id: string;
  amount: number;
}

@Injectable()
export class PaymentService {
  private readonly logger = new Logger(PaymentService.name);

  constructor(private readonly publisher: EventPublisher) {}

  /**
   * Publishes the payment and answers only once the broker has acknowledged it. The service keeps no
   * state, and a 503 comes only after the send has settled, so nothing is left queued to go out later.
   * A send that timed out may still have reached the broker, though: the 503 says so, and a retry with the
   * same idempotency key (the payment id) makes one order either way.
   */
  async accept(request: PaymentRequestDto, idempotencyKey?: string): Promise<PaymentAccepted> {
    const cart = request.cart.map(({ name, price, quantity }) => ({ name, price, quantity }));
    const payment: SettledPayment = {
      payment_id: idempotencyKey ?? randomUUID(),
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
    return { payment_id: payment.payment_id, amount: payment.amount };
  }
}
