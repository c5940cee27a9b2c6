import { Controller, Logger } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import {
  EmailSentEvent,
  OrderCreatedEvent,
  PaymentSuccessfulEvent,
  settleEmail,
  settleOrder,
  settlePayment,
  TOPICS,
  type SettledEmail,
  type SettledOrder,
  type SettledPayment,
} from '@app/contracts';
import { KafkaEvent } from '@app/kafka';
import { AnalyticsRepository } from './analytics.repository';

/** Analytics watches the whole chain; every event is counted once, by its id. */
@Controller()
export class ChainEventsController {
  private readonly logger = new Logger('Analytics');

  constructor(private readonly analytics: AnalyticsRepository) {}

  @EventPattern(TOPICS.paymentSuccessful)
  async onPayment(@KafkaEvent(PaymentSuccessfulEvent, settlePayment) payment: SettledPayment) {
    await this.analytics.record({
      topic: TOPICS.paymentSuccessful,
      event_id: payment.payment_id,
      user_id: payment.user_id,
      amount: payment.amount,
      items: payment.cart,
    });
    this.logger.log({ payment_id: payment.payment_id }, `counted payment ${payment.payment_id}`);
  }

  @EventPattern(TOPICS.orderCreated)
  async onOrder(@KafkaEvent(OrderCreatedEvent, settleOrder) order: SettledOrder) {
    await this.analytics.record({
      topic: TOPICS.orderCreated,
      event_id: order.order_id,
      user_id: order.user_id,
      amount: order.total,
    });
    this.logger.log({ order_id: order.order_id, payment_id: order.payment_id }, `counted order ${order.order_id}`);
  }

  @EventPattern(TOPICS.emailSent)
  async onEmail(@KafkaEvent(EmailSentEvent, settleEmail) email: SettledEmail) {
    await this.analytics.record({ topic: TOPICS.emailSent, event_id: email.email_id, user_id: email.user_id });
    this.logger.log({ email_id: email.email_id, order_id: email.order_id }, `counted email ${email.email_id}`);
  }
}
