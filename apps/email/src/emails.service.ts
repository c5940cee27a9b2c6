import { Injectable, Logger } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Histogram } from 'prom-client';
import { METRICS } from '@app/platform';
import { TOPICS, type EmailSentEvent, type SettledOrder } from '@app/contracts';
import { EventPublisher } from '@app/kafka';
import { EmailsRepository, type Email } from './emails.repository';
import { Mailer } from './mailer';

@Injectable()
export class EmailsService {
  private readonly logger = new Logger('Emails');

  constructor(
    private readonly emails: EmailsRepository,
    private readonly mailer: Mailer,
    private readonly publisher: EventPublisher,
    @InjectMetric(METRICS.paymentToEmail) private readonly paymentToEmail: Histogram,
  ) {}

  /**
   * Records, sends, marks sent, announces. A redelivery finds the record: a sent email is only announced
   * again; a pending one (the process died mid-send) is sent again, as at-least-once delivery must.
   */
  async confirmOrder(order: SettledOrder, paymentAcceptedAt?: number): Promise<Email> {
    let email = await this.emails.insertOnce(composeConfirmation(order));
    if (email.status !== 'sent') {
      const receipt = await this.mailer.send({ orderId: email.order_id, to: email.email_to, subject: email.subject, text: email.body });
      email = await this.emails.markSent(email.email_id, receipt.messageId, receipt.output);
      // Once per email sent: a redelivery of an order already confirmed is not timed again.
      if (paymentAcceptedAt !== undefined) this.paymentToEmail.observe(Math.max(0, Date.now() - paymentAcceptedAt) / 1000);
      this.logger.log({ order_id: email.order_id, payment_id: order.payment_id, email_id: email.email_id }, `confirmation of order ${email.order_id} sent`);
    }
    const event: EmailSentEvent = {
      email_id: email.email_id,
      order_id: email.order_id,
      user_id: email.user_id,
      email_to: email.email_to,
      subject: email.subject,
      status: 'sent',
      sent_at: email.sent_at ?? new Date().toISOString(),
    };
    await this.publisher.publish(TOPICS.emailSent, { key: String(email.user_id), value: event });
    return email;
  }
}

/** The shop knows customers by id only; their address follows the course's convention. */
export function composeConfirmation(order: SettledOrder) {
  const lines = order.items.map((item) => `  ${item.quantity} x ${item.name} at ${item.price.toFixed(2)}`);
  return {
    order_id: order.order_id,
    user_id: order.user_id,
    email_to: `user${order.user_id}@example.com`,
    subject: `Your order ${order.order_id.slice(0, 8)} is confirmed`,
    body: [`Thank you for your order ${order.order_id}.`, '', ...lines, '', `Total: ${order.total.toFixed(2)}`].join('\n'),
  };
}
