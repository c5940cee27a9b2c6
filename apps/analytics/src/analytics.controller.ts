import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ReadTokenGuard } from '@app/platform';
import { AnalyticsRepository, type Statistics } from './analytics.repository';

/** Revenue, users and top products: behind READ_TOKEN when it is set. */
@Controller('analytics')
@UseGuards(ReadTokenGuard)
@ApiBearerAuth()
export class AnalyticsController {
  constructor(private readonly analytics: AnalyticsRepository) {}

  @Get()
  statistics(): Promise<Statistics> {
    return this.analytics.statistics();
  }
}
