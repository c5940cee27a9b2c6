import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRecordFault } from '@app/kafka';
import { Coalescer, Database, type InsertOnceSpec, type Page, type UserPageQuery } from '@app/platform';

export interface Email {
  email_id: string;
  order_id: string;
  user_id: number;
  email_to: string;
  subject: string;
  body: string;
  status: 'pending' | 'sent';
  message_id: string | null;
  transport_output: string | null;
  created_at: string;
  sent_at: string | null;
}

interface EmailRow extends Omit<Email, 'created_at' | 'sent_at'> {
  created_at: Date;
  sent_at: Date | null;
}

export type NewEmail = Pick<Email, 'order_id' | 'user_id' | 'email_to' | 'subject' | 'body'>;

const COLUMNS =
  'email_id, order_id, user_id, email_to, subject, body, status, message_id, transport_output, created_at, sent_at';

const INSERT_ONCE: InsertOnceSpec = {
  table: 'email.emails',
  columns: { order_id: 'uuid', user_id: 'integer', email_to: 'text', subject: 'text', body: 'text' },
  key: 'order_id',
  returning: COLUMNS,
};

const MARK_SENT_ATTEMPTS = 4;

interface Sent {
  email_id: string;
  message_id: string;
  transport_output: string | null;
}

@Injectable()
export class EmailsRepository {
  /** Emails recorded side by side (the records of one fetched batch) share one INSERT, and one UPDATE once sent. */
  private readonly inserts = new Coalescer<NewEmail, Email>(
    async (emails) => (await this.db.insertOnceMany<EmailRow>(INSERT_ONCE, emails)).map(toEmail),
    { maxBatch: 500, isolate: isRecordFault },
  );
  private readonly sendings = new Coalescer<Sent, Email>((sent) => this.markSentMany(sent), { maxBatch: 500, isolate: isRecordFault });

  constructor(private readonly db: Database) {}

  /** Records the email of an order as pending, or returns the one a previous delivery recorded. */
  insertOnce(email: NewEmail): Promise<Email> {
    return this.inserts.submit(email);
  }

  markSent(emailId: string, messageId: string, output: string | null): Promise<Email> {
    return this.sendings.submit({ email_id: emailId, message_id: messageId, transport_output: output });
  }

  /**
   * The mail has gone out by now: were this update lost to a moment's outage, every email of the batch would
   * be sent again on redelivery. The update can be repeated safely, so it is, a few times, before giving up.
   */
  private async markSentMany(sent: Sent[]): Promise<Email[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.updateSent(sent);
      } catch (error) {
        if (attempt >= MARK_SENT_ATTEMPTS || isRecordFault(error)) throw error;
        await sleep(200 * attempt);
      }
    }
  }

  private async updateSent(sent: Sent[]): Promise<Email[]> {
    const rows = await this.db.query<EmailRow>(
      `UPDATE email.emails e
       SET status = 'sent', message_id = s.message_id, transport_output = s.transport_output, sent_at = clock_timestamp()
       FROM jsonb_to_recordset($1::jsonb) AS s(email_id uuid, message_id text, transport_output text)
       WHERE e.email_id = s.email_id AND e.email_id = ANY($2::uuid[])
       RETURNING ${COLUMNS.split(', ').map((column) => `e.${column}`).join(', ')}`,
      // The ids again as an array, which the planner can count: the recordset alone it takes for 100 rows, and
      // while the table is small it joined them by reading all of it.
      [JSON.stringify(sent), sent.map(({ email_id }) => email_id)],
    );
    const byId = new Map(rows.map((row) => [row.email_id, toEmail(row)]));
    return sent.map(({ email_id }) => {
      const email = byId.get(email_id);
      if (!email) throw new Error(`email ${email_id} vanished before it was marked sent`);
      return email;
    });
  }

  async list(query: UserPageQuery): Promise<Page<Email>> {
    const { rows, total } = await this.db.page<EmailRow>('email.emails', COLUMNS, 'created_at DESC, email_id DESC', query);
    return { items: rows.map(toEmail), page: query.page, limit: query.limit, total };
  }

}

function toEmail(row: EmailRow): Email {
  return { ...row, created_at: row.created_at.toISOString(), sent_at: row.sent_at?.toISOString() ?? null };
}
