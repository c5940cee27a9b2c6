import { CONSUMER_GROUPS } from '@app/contracts';
import { bootstrapService } from '@app/service';
import { AnalyticsModule } from './analytics.module';

void bootstrapService({
  name: 'analytics',
  module: AnalyticsModule,
  defaultPort: 8003,
  consumerGroup: CONSUMER_GROUPS.analytics,
});
