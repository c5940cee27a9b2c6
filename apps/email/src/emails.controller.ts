import { Controller, Get, Query } from '@nestjs/common';
import { UserPageQuery, type Page } from '@app/platform';
import { EmailsRepository, type Email } from './emails.repository';

@Controller('emails')
export class EmailsController {
  constructor(private readonly emails: EmailsRepository) {}

  @Get()
  list(@Query() query: UserPageQuery): Promise<Page<Email>> {
    return this.emails.list(query);
  }
}
