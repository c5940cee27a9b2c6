import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { GROUP_TOPICS } from '@app/contracts';
import { METRICS } from '@app/platform';
import { ConsumerGroup } from '../dead-letter.interceptor';
import { ConsumerState } from './consumer-state';

/**
 * `kafka_partitions_stalled{topic}`: partitions of this instance with a record held for a retry (an outage, a
 * bug), read from the consumer's state when Prometheus scrapes; 0 for each topic the group reads when none is.
 */
@Injectable()
export class StalledPartitionsMetrics implements OnModuleDestroy {
  constructor(state: ConsumerState, group: ConsumerGroup) {
    const topics = GROUP_TOPICS[group.id] ?? [];
    new Gauge({
      name: METRICS.stalledPartitions,
      help: 'Partitions of this instance with a record (and its key) held for a retry, by topic.',
      labelNames: ['topic'],
      registers: [register],
      collect() {
        const stalled = state.retries.stalled();
        for (const topic of new Set([...topics, ...stalled.map((s) => s.topic)])) {
          this.set({ topic }, stalled.filter((s) => s.topic === topic).length);
        }
      },
    });
  }

  onModuleDestroy(): void {
    register.removeSingleMetric(METRICS.stalledPartitions);
  }
}
