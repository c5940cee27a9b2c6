import { Injectable, Logger } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { RecordFault } from '@app/contracts';
import { Environment } from '@app/platform';

/**
 * The mail server refused the recipient for good (an SMTP 5xx answer to the envelope): the order's address is
 * at fault, and sending again cannot help. A refused login, a deferral (4xx) or an unreachable server are
 * outages, and are retried.
 */
export class RecipientRefused extends RecordFault {
  override name = 'RecipientRefused';
}

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface MailReceipt {
  messageId: string;
  /** The rendered message when the JSON transport is in use; null after real SMTP delivery. */
  output: string | null;
}

export const MAIL_FROM = 'Black Friday Shop <orders@shop.example>';

/**
 * nodemailer, over SMTP when SMTP_URL is set; otherwise its JSON transport renders the message without
 * sending it anywhere, and the service keeps that output where `GET /emails` and the logs show it.
 */
@Injectable()
export class Mailer {
  private readonly logger = new Logger(Mailer.name);
  private readonly transport: Transporter;
  readonly kind: 'smtp' | 'json';

  constructor(env: Environment) {
    this.kind = env.SMTP_URL ? 'smtp' : 'json';
    this.transport = env.SMTP_URL ? createTransport(env.SMTP_URL) : createTransport({ jsonTransport: true });
  }

  async send(message: MailMessage): Promise<MailReceipt> {
    const info = await this.transport.sendMail({ from: MAIL_FROM, ...message }).catch((error: { code?: string; responseCode?: number; message?: string }) => {
      if (error?.code === 'EENVELOPE' && (error.responseCode ?? 0) >= 500) throw new RecipientRefused(`the mail server refused ${message.to}: ${error.message}`);
      throw error;
    });
    const output = this.kind === 'json' ? String(info.message) : null;
    this.logger.log(`sent "${message.subject}" to ${message.to} via ${this.kind} (${info.messageId})`);
    return { messageId: info.messageId, output };
  }
}
