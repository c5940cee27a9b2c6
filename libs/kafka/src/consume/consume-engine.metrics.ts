import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { METRICS } from '@app/platform';
import { ConsumerState } from './consumer-state';

/**
 * The consume engine's load, read when Prometheus scrapes: records running, records waiting for their key or a
 * free place, each partition's records taken and not yet committed (its unfinished span), and partitions
 * paused by back-pressure. 0 before the consumer runs.
 */
@Injectable()
export class ConsumeEngineMetrics implements OnModuleDestroy {
  private readonly names = [METRICS.recordsInFlight, METRICS.recordsWaiting, METRICS.recordsHeld, METRICS.partitionsPaused];

  constructor(state: ConsumerState) {
    const gauge = (name: string, help: string, read: (this: Gauge) => void, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: [register], collect: read });
    gauge(METRICS.recordsInFlight, 'Records this instance is handling now (at most CONSUMER_MAX_IN_FLIGHT).', function () {
      this.set(state.engine?.inFlight ?? 0);
    });
    gauge(METRICS.recordsWaiting, 'Records taken from Kafka and waiting for the record of their key before them, or for a free place.', function () {
      this.set(state.engine?.waiting ?? 0);
    });
    gauge(METRICS.partitionsPaused, 'Partitions paused because they hold too many records not yet committed (back-pressure).', function () {
      this.set(state.engine?.pausedByPressure ?? 0);
    });
    gauge(
      METRICS.recordsHeld,
      "Records taken and not yet committed, per partition: the span from the partition's first unfinished record.",
      function () {
        this.reset();
        for (const { topic, partition, records } of state.engine?.held() ?? []) this.set({ topic, partition: String(partition) }, records);
      },
      ['topic', 'partition'],
    );
  }

  onModuleDestroy(): void {
    for (const name of this.names) register.removeSingleMetric(name);
  }
}
