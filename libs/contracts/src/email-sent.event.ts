import { IsEmail, IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';
import { MAX_USER_ID } from './payment-request.dto';
import { IsStorableText } from './storable';
import { derivedUuid, writtenAt } from './derived-id';
import { IsEventId } from './event-id';

/**
 * `email-sent`. The course's email service writes it without `email_id` and `sent_at`, with its order's integer
 * `order_id`, and without a key: consumers derive what it leaves out (see settleEmail).
 */
export class EmailSentEvent {
  @IsOptional()
  @IsUUID()
  email_id?: string;

  @IsEventId()
  order_id!: string | number;

  @IsInt()
  @Min(1)
  @Max(MAX_USER_ID)
  user_id!: number;

  @IsEmail({ allow_display_name: false, require_tld: false })
  email_to!: string;

  @IsString()
  @Length(1, 200)
  @IsStorableText()
  subject!: string;

  @IsIn(['sent'])
  status!: 'sent';

  @IsOptional()
  @IsISO8601({ strict: true })
  sent_at?: string;
}

/** An email event with its id and time settled. */
export interface SettledEmail extends EmailSentEvent {
  email_id: string;
  sent_at: string;
}

/** The id derived from the record when the event has none (a redelivery maps to the same), the time it was written. */
export function settleEmail(event: EmailSentEvent, recordId: string, timestamp: string): SettledEmail {
  return Object.assign(event, { email_id: event.email_id ?? derivedUuid(`email:${recordId}`), sent_at: event.sent_at ?? writtenAt(timestamp) });
}
