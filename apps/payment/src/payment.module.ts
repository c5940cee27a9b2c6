import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { DatabaseModule } from '@app/platform';
import { IdempotencyKeys } from './idempotency-keys';
import { PaymentController } from './payment.controller';
import { PaymentService } from './payment.service';

@Module({
  imports: [DatabaseModule.forService({ schema: 'payment', migrationsDir: join(__dirname, 'migrations') })],
  controllers: [PaymentController],
  providers: [PaymentService, IdempotencyKeys],
})
export class PaymentModule {}
