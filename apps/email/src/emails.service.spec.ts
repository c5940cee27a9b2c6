import { Logger } from '@nestjs/common';
import type { Histogram } from 'prom-client';
import { TOPICS, type SettledOrder } from '@app/contracts';
import type { EventPublisher, OutgoingEvent } from '@app/kafka';
import type { Email, EmailsRepository, NewEmail } from './emails.repository';
import type { MailMessage, Mailer } from './mailer';
import { EmailsService } from './emails.service';

const ORDER_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const order: SettledOrder = {
  order_id: ORDER_ID,
  payment_id: 'pay-1',
  user_id: 7,
  items: [{ name: 'AirPods Pro', price: 249, quantity: 1 }],
  total: 249,
  status: 'confirmed',
  created_at: '2026-11-27T10:00:00.000Z',
  instance_id: '1',
};
const SENT_AT = '2026-11-27T10:00:01.000Z';

/** The service over an email store that already holds this order's email with `status` (as a redelivery finds it). */
function serviceFinding(status: Email['status']) {
  const mailed: MailMessage[] = [];
  const published: Array<{ topic: string; event: OutgoingEvent }> = [];
  let stored: Email | undefined;
  const repository = {
    insertOnce: async (email: NewEmail): Promise<Email> => {
      const sent = status === 'sent';
      stored ??= {
        ...email,
        email_id: 'email-1',
        status,
        message_id: sent ? `<order-${ORDER_ID}@shop.example>` : null,
        transport_output: null,
        created_at: order.created_at,
        sent_at: sent ? SENT_AT : null,
      };
      return stored;
    },
    markSent: async (_emailId: string, messageId: string): Promise<Email> => {
      stored = { ...stored!, status: 'sent', message_id: messageId, sent_at: SENT_AT };
      return stored;
    },
  };
  const mailer = {
    send: async (message: MailMessage) => {
      mailed.push(message);
      return { messageId: `<order-${message.orderId}@shop.example>`, output: null };
    },
  };
  const publisher = {
    publish: async (topic: string, event: OutgoingEvent) => void published.push({ topic, event }),
    publishBatch: async () => undefined,
  };
  const service = new EmailsService(
    repository as unknown as EmailsRepository,
    mailer as unknown as Mailer,
    publisher as unknown as EventPublisher,
    { observe: () => undefined } as unknown as Histogram,
  );
  return { service, mailed, published };
}

/** The announcement of this order's email, keyed by its customer. */
const emailSent = {
  topic: TOPICS.emailSent,
  event: { key: '7', value: expect.objectContaining({ order_id: ORDER_ID, email_id: 'email-1', status: 'sent', sent_at: SENT_AT }) },
};

describe('EmailsService.confirmOrder', () => {
  // Its "confirmation sent" line is expected here.
  beforeAll(() => Logger.overrideLogger(false));

  it('announces email-sent again for a redelivered order whose email is marked sent, and never mails the customer again', async () => {
    const { service, mailed, published } = serviceFinding('sent');
    await service.confirmOrder(order);
    expect({ mailed, published }).toEqual({ mailed: [], published: [emailSent] });
  });

  it('mails an order whose email is still pending (a delivery that died before marking it sent), then announces it', async () => {
    const { service, mailed, published } = serviceFinding('pending');
    await service.confirmOrder(order);
    expect(mailed).toEqual([expect.objectContaining({ orderId: ORDER_ID, to: 'user7@example.com' })]);
    expect(published).toEqual([emailSent]);
  });
});
