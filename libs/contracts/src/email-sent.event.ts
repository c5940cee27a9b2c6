import { IsEmail, IsIn, IsInt, IsISO8601, IsString, IsUUID, Length, Min } from 'class-validator';

export class EmailSentEvent {
  @IsUUID()
  email_id!: string;

  @IsUUID()
  order_id!: string;

  @IsInt()
  @Min(1)
  user_id!: number;

  @IsEmail({ allow_display_name: false, require_tld: false })
  email_to!: string;

  @IsString()
  @Length(1, 200)
  subject!: string;

  @IsIn(['sent'])
  status!: 'sent';

  @IsISO8601()
  sent_at!: string;
}
