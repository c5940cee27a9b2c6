import { CONSUMER_GROUPS } from '@app/contracts';
import { bootstrapService } from '@app/service';
import { EmailModule } from './email.module';

void bootstrapService({
  name: 'email',
  module: EmailModule,
  defaultPort: 8002,
  description: 'Consumes `order-created`, sends one confirmation per order and publishes `email-sent`.',
  consumerGroup: CONSUMER_GROUPS.email,
});
