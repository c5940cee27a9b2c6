import { Controller, Get, Optional } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@app/kafka';
import { Database } from '@app/platform';

/** `GET /health`: 200 when Kafka (broker and consumer) and the database answer, 503 naming what does not. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly kafka: KafkaHealthIndicator,
    @Optional() private readonly database?: Database,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.kafka.check(),
      ...(this.database ? [() => this.checkDatabase(this.database as Database)] : []),
    ]);
  }

  private async checkDatabase(database: Database) {
    const indicator = this.indicators.check('database');
    try {
      await database.ping();
      return indicator.up({ schema: database.schema });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
