import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { DatabaseModule } from '@app/platform';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { PaymentEventsController } from './payment-events.controller';

@Module({
  imports: [DatabaseModule.forService({ schema: 'orders', migrationsDir: join(__dirname, 'migrations') })],
  controllers: [OrdersController, PaymentEventsController],
  providers: [OrdersRepository, OrdersService],
})
export class OrderModule {}
