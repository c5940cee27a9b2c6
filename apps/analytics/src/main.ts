import { CONSUMER_GROUPS } from '@app/contracts';
import { SINK_GATHERING } from '@app/kafka';
import { bootstrapService } from '@app/service';
import { AnalyticsModule } from './analytics.module';

void bootstrapService({
  name: 'analytics',
  module: AnalyticsModule,
  defaultPort: 8003,
  description: 'Consumes `payment-successful`, `order-created` and `email-sent`, counting each event once, and keeps live statistics.',
  consumerGroup: CONSUMER_GROUPS.analytics,
  gather: SINK_GATHERING,
});
