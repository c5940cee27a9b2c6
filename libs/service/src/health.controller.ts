import { Controller, Get, Optional, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@app/kafka';
import { Database, Secrets } from '@app/platform';

/** `GET /health`: 200 when Kafka (broker and consumer) and the database answer, 503 naming what does not. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly kafka: KafkaHealthIndicator,
    private readonly secrets: Secrets,
    @Optional() private readonly database?: Database,
  ) {}

  /** Details quote the errors of libraries (pg, kafkajs): their secrets are blanked out, up or down. */
  @Get()
  @HealthCheck()
  async check() {
    try {
      return this.secrets.redactDeep(
        await this.health.check([
          () => this.kafka.check(),
          ...(this.database ? [() => this.checkDatabase(this.database as Database)] : []),
        ]),
      );
    } catch (error) {
      if (error instanceof ServiceUnavailableException) throw new ServiceUnavailableException(this.secrets.redactDeep(error.getResponse()));
      throw error;
    }
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
