import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { DatabaseModule } from '@app/platform';
import { AnalyticsController } from './analytics.controller';
import { AnalyticsRepository } from './analytics.repository';
import { ChainEventsController } from './chain-events.controller';

@Module({
  imports: [DatabaseModule.forService({ schema: 'analytics', migrationsDir: join(__dirname, 'migrations') })],
  controllers: [AnalyticsController, ChainEventsController],
  providers: [AnalyticsRepository],
})
export class AnalyticsModule {}
