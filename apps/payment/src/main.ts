import { bootstrapService } from '@app/service';
import { PaymentModule } from './payment.module';

void bootstrapService({
  name: 'payment',
  module: PaymentModule,
  defaultPort: 8000,
  description: 'Takes a cart over `POST /payment`, validates it and publishes `payment-successful` once the broker has acknowledged it.',
});
