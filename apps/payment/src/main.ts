import { bootstrapService } from '@app/service';
import { PaymentModule } from './payment.module';

void bootstrapService({ name: 'payment', module: PaymentModule, defaultPort: 8000 });
