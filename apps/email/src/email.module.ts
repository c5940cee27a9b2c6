import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { DatabaseModule } from '@app/platform';
import { EmailsController } from './emails.controller';
import { EmailsRepository } from './emails.repository';
import { EmailsService } from './emails.service';
import { Mailer } from './mailer';
import { OrderEventsController } from './order-events.controller';

@Module({
  imports: [DatabaseModule.forService({ schema: 'email', migrationsDir: join(__dirname, 'migrations') })],
  controllers: [EmailsController, OrderEventsController],
  providers: [EmailsRepository, EmailsService, Mailer],
})
export class EmailModule {}
