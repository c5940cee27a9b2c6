import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { GROUP_TOPICS } from '@app/contracts';
import { METRICS } from '@app/platform';
import { describeLag } from './consumer-lag';
import { ConsumerGroup } from './dead-letter.interceptor';
import { KafkaAdmin } from './kafka-admin';

/**
 * `kafka_consumer_group_lag{group,topic,partition}`: the service's own group's lag, read from the broker
 * when Prometheus scrapes, so the figure is current and nothing polls between scrapes.
 */
@Injectable()
export class ConsumerLagMetrics implements OnModuleDestroy {
  constructor(admin: KafkaAdmin, group: ConsumerGroup) {
    const logger = new Logger(ConsumerLagMetrics.name);
    // Registered in the default registry, which /metrics serves; removed again by name on shutdown.
    new Gauge({
      name: METRICS.consumerLag,
      help: 'Records not yet committed by a consumer group, by group, topic and partition.',
      labelNames: ['group', 'topic', 'partition'],
      registers: [register],
      async collect() {
        try {
          const rows = await describeLag(admin.admin, { [group.id]: GROUP_TOPICS[group.id] ?? [] });
          this.reset();
          for (const row of rows) this.set({ group: row.group, topic: row.topic, partition: String(row.partition) }, row.lag);
        } catch (error) {
          logger.warn(`consumer lag not available: ${(error as Error).message}`);
        }
      },
    });
  }

  onModuleDestroy(): void {
    register.removeSingleMetric(METRICS.consumerLag);
  }
}
