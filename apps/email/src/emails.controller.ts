import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ReadTokenGuard, UserPageQuery, type Page } from '@app/platform';
import { EmailsRepository, type Email } from './emails.repository';

/** The confirmations sent, with their addresses: customers' data, behind READ_TOKEN when it is set. */
@Controller('emails')
@UseGuards(ReadTokenGuard)
@ApiBearerAuth()
export class EmailsController {
  constructor(private readonly emails: EmailsRepository) {}

  @Get()
  list(@Query() query: UserPageQuery): Promise<Page<Email>> {
    return this.emails.list(query);
  }
}
