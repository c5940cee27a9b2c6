import { Controller, Get } from '@nestjs/common';
import { TOPICS } from '@app/contracts';
import { AnalyticsRepository, type Statistics } from './analytics.repository';

@Controller('analytics')
export class AnalyticsController {
  constructor(private readonly analytics: AnalyticsRepository) {}

  @Get()
  statistics(): Promise<Statistics> {
    return this.analytics.statistics({
      payments: TOPICS.paymentSuccessful,
      orders: TOPICS.orderCreated,
      emails: TOPICS.emailSent,
    });
  }
}
