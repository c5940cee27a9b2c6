import { CONSUMER_GROUPS } from '@app/contracts';
import { bootstrapService } from '@app/service';
import { OrderModule } from './order.module';

void bootstrapService({
  name: 'order',
  module: OrderModule,
  defaultPort: 8001,
  description: 'Consumes `payment-successful`, stores one order per payment and publishes `order-created`. Every instance lists every order.',
  consumerGroup: CONSUMER_GROUPS.order,
});
