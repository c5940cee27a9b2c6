import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { DeadLetterCount } from '@app/kafka';
import { DatabaseModule } from '@app/platform';
import { AnalyticsController } from './analytics.controller';
import { AnalyticsRepository } from './analytics.repository';
import { ChainEventsController } from './chain-events.controller';
import { EventSecondsRetention } from './event-seconds-retention';
import { LiveController } from './live/live.controller';
import { LiveService } from './live/live.service';

@Module({
  imports: [DatabaseModule.forService({ schema: 'analytics', migrationsDir: join(__dirname, 'migrations') })],
  controllers: [AnalyticsController, ChainEventsController, LiveController],
  providers: [AnalyticsRepository, EventSecondsRetention, LiveService, DeadLetterCount],
})
export class AnalyticsModule {}
