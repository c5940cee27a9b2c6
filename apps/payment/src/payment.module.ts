import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { DatabaseModule, METRICS } from '@app/platform';
import { IdempotencyKeys } from './idempotency-keys';
import { PaymentController } from './payment.controller';
import { PaymentService } from './payment.service';

@Module({
  imports: [DatabaseModule.forService({ schema: 'payment', migrationsDir: join(__dirname, 'migrations') })],
  controllers: [PaymentController],
  providers: [
    PaymentService,
    IdempotencyKeys,
    makeCounterProvider({
      name: METRICS.paymentAmount,
      help: "Sum of the amounts of the payments accepted (published and acknowledged by the broker), in the shop's currency: revenue.",
    }),
  ],
})
export class PaymentModule {}
