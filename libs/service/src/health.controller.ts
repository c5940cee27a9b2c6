import { Controller, Get, Optional, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@app/kafka';
import { Database, Secrets } from '@app/platform';

/**
 * Health through @nestjs/terminus, 200 or 503 naming what fails:
 * - `GET /health/live`: the process answers and its consumer is alive (joined, or waiting out an outage). Fails
 *   only for what a restart cures: a consumer gone silent for good. A supervisor restarts the service on it.
 * - `GET /health/ready`: Kafka (the broker, and the consumer in its group) and the database answer. A load
 *   balancer or `npm start` waits on it; an outage makes it fail until it is over.
 * - `GET /health`: both together.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly kafka: KafkaHealthIndicator,
    private readonly secrets: Secrets,
    @Optional() private readonly database?: Database,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.run([...this.liveness(), ...this.readiness()]);
  }

  @Get('live')
  @HealthCheck()
  live() {
    return this.run(this.liveness());
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.run(this.readiness());
  }

  private liveness(): HealthIndicatorFunction[] {
    return [
      () => this.indicators.check('process').up({ pid: process.pid, uptime_s: Math.round(process.uptime()) }),
      () => this.kafka.live(),
    ];
  }

  private readiness(): HealthIndicatorFunction[] {
    return [() => this.kafka.check(), ...(this.database ? [() => this.checkDatabase(this.database as Database)] : [])];
  }

  /** Details quote the errors of libraries (pg, kafkajs): their secrets are blanked out, up or down. */
  private async run(checks: HealthIndicatorFunction[]) {
    try {
      return this.secrets.redactDeep(await this.health.check(checks));
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
