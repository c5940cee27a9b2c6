import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { RecordFault } from '@app/contracts';
import { Environment } from '@app/platform';

/**
 * The mail server refused the recipient for good (an SMTP 5xx answer to RCPT TO): the order's address is at
 * fault, and sending again cannot help. A refused login, a deferral (4xx), a refused sender or an unreachable
 * server are outages, and are retried.
 */
export class RecipientRefused extends RecordFault {
  override name = 'RecipientRefused';
  override readonly reason = 'recipient_refused';
}

export interface MailMessage {
  /** The order confirmed: it names the message (see confirmationMessageId). */
  orderId: string;
  to: string;
  subject: string;
  text: string;
}

export interface MailReceipt {
  messageId: string;
  /** The rendered message when the JSON transport is in use; null after real SMTP delivery. */
  output: string | null;
}

export const MAIL_DOMAIN = 'shop.example';
export const MAIL_FROM = `Black Friday Shop <orders@${MAIL_DOMAIN}>`;

/**
 * The Message-ID of an order's confirmation, the same at every attempt: a message sent again after a crash
 * (see docs/consumers.md) carries the id of the first, so the receiving system can recognise and drop it.
 */
export const confirmationMessageId = (orderId: string) => `<order-${orderId}@${MAIL_DOMAIN}>`;

/**
 * SMTP settings the URL's query can override (`smtp://…?socketTimeout=120000`, read by nodemailer). Pooled:
 * a burst reuses a few connections instead of opening one per message. The timeouts turn a mail server that
 * stops answering into a failed send, retried under the failure policy, instead of a partition stuck for
 * nodemailer's default of ten minutes.
 */
const SMTP_DEFAULTS = {
  pool: true,
  maxConnections: 5,
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 60_000,
} as const;

/**
 * How long a stopping service lets the messages in flight finish. The consumers stop after this, waiting for
 * the batch in hand; past the grace its sends are cut (their emails stay pending, their records uncommitted),
 * so a mail server that hangs cannot hold the stop.
 */
export const STOP_GRACE_MS = 3000;

/**
 * nodemailer, over SMTP when SMTP_URL is set; otherwise its JSON transport renders the message without
 * sending it anywhere, and the service keeps that output where `GET /emails` and the logs show it.
 */
@Injectable()
export class Mailer implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(Mailer.name);
  private readonly transport: Transporter;
  private cutOff?: NodeJS.Timeout;
  readonly kind: 'smtp' | 'json';

  constructor(env: Environment) {
    this.kind = env.SMTP_URL ? 'smtp' : 'json';
    this.transport = env.SMTP_URL ? createTransport({ ...SMTP_DEFAULTS, url: env.SMTP_URL }) : createTransport({ jsonTransport: true });
  }

  async send(message: MailMessage): Promise<MailReceipt> {
    const { orderId, ...content } = message;
    const info = await this.transport
      .sendMail({ from: MAIL_FROM, messageId: confirmationMessageId(orderId), ...content })
      .catch((error: { code?: string; command?: string; responseCode?: number; message?: string }) => {
        if (error?.command === 'RCPT TO' && (error.responseCode ?? 0) >= 500) throw new RecipientRefused(`the mail server refused ${message.to}: ${error.message}`);
        throw error;
      });
    const output = this.kind === 'json' ? String(info.message) : null;
    this.logger.log(`sent "${message.subject}" to ${message.to} via ${this.kind} (${info.messageId})`);
    return { messageId: info.messageId, output };
  }

  beforeApplicationShutdown(): void {
    this.cutOff = setTimeout(() => this.transport.close({ force: true }), STOP_GRACE_MS);
  }

  onApplicationShutdown(): void {
    clearTimeout(this.cutOff);
    this.transport.close();
  }
}
