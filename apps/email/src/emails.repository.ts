import { Injectable } from '@nestjs/common';
import { Database, type Page, type UserPageQuery } from '@app/platform';

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

@Injectable()
export class EmailsRepository {
  constructor(private readonly db: Database) {}

  /** Records the email of an order as pending, or returns the one a previous delivery recorded. */
  async insertOnce(email: NewEmail): Promise<Email> {
    const inserted = await this.db.query<EmailRow>(
      `INSERT INTO email.emails (order_id, user_id, email_to, subject, body) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (order_id) DO NOTHING RETURNING ${COLUMNS}`,
      [email.order_id, email.user_id, email.email_to, email.subject, email.body],
    );
    if (inserted.length > 0) return toEmail(inserted[0]);
    const [existing] = await this.db.query<EmailRow>(`SELECT ${COLUMNS} FROM email.emails WHERE order_id = $1`, [
      email.order_id,
    ]);
    return toEmail(existing);
  }

  async markSent(emailId: string, messageId: string, output: string | null): Promise<Email> {
    const [row] = await this.db.query<EmailRow>(
      `UPDATE email.emails SET status = 'sent', message_id = $2, transport_output = $3, sent_at = clock_timestamp()
       WHERE email_id = $1 RETURNING ${COLUMNS}`,
      [emailId, messageId, output],
    );
    return toEmail(row);
  }

  async list(query: UserPageQuery): Promise<Page<Email>> {
    const { rows, total } = await this.db.page<EmailRow>('email.emails', COLUMNS, 'created_at DESC, email_id DESC', query);
    return { items: rows.map(toEmail), page: query.page, limit: query.limit, total };
  }

}

function toEmail(row: EmailRow): Email {
  return { ...row, created_at: row.created_at.toISOString(), sent_at: row.sent_at?.toISOString() ?? null };
}
