import { Injectable, Logger } from '@nestjs/common';
import { EMPTY, catchError, exhaustMap, from, interval, share, startWith, type Observable } from 'rxjs';
import { GROUP_TOPICS, TOPICS, type DeadLetterTopic } from '@app/contracts';
import { DeadLetterCount, describeLag, KafkaAdmin } from '@app/kafka';
import { AnalyticsRepository, type ProductStats } from '../analytics.repository';

/** The live page's picture of the chain, sent to it every second. */
export interface LiveSnapshot {
  at: string;
  totals: { payments: number; orders: number; emails: number; revenue: number; users: number };
  /** Orders per second over the last five minutes, in 10-second buckets. */
  orders_per_second: Array<{ at: string; rate: number }>;
  top_products: ProductStats[];
  /** Records not yet committed, per group and partition, for every group of the chain. */
  lag: Array<{ group: string; topic: string; partition: number; lag: number }>;
  dead_letters: Record<DeadLetterTopic, number>;
}

const EVERY_MS = 1000;
const WINDOW_S = 300;
const BUCKET_S = 10;

/** Reads the statistics, the lag and the DLQ count once a second for all the page's viewers at once. */
@Injectable()
export class LiveService {
  private readonly logger = new Logger(LiveService.name);
  /** One reading per second however many pages watch; none while nobody does. */
  readonly snapshots: Observable<LiveSnapshot> = interval(EVERY_MS).pipe(
    startWith(0),
    exhaustMap(() =>
      from(this.snapshot()).pipe(
        catchError((error: Error) => {
          // A database or broker outage skips a beat; the page keeps its last picture and says how old it is.
          this.logger.warn(`live snapshot not read: ${error.message}`);
          return EMPTY;
        }),
      ),
    ),
    share(),
  );

  constructor(
    private readonly analytics: AnalyticsRepository,
    private readonly admin: KafkaAdmin,
    private readonly deadLetters: DeadLetterCount,
  ) {}

  async snapshot(): Promise<LiveSnapshot> {
    const [statistics, rate, lag] = await Promise.all([
      this.analytics.statistics(),
      this.analytics.ratePerSecond(TOPICS.orderCreated, WINDOW_S, BUCKET_S),
      describeLag(this.admin.admin, GROUP_TOPICS),
    ]);
    return {
      at: new Date().toISOString(),
      totals: {
        payments: statistics.total_payments,
        orders: statistics.total_orders,
        emails: statistics.total_emails,
        revenue: statistics.revenue,
        users: statistics.unique_users,
      },
      orders_per_second: rate,
      top_products: statistics.top_products,
      lag: lag.map(({ group, topic, partition, lag: behind }) => ({ group, topic, partition, lag: behind })).sort((a, b) => a.partition - b.partition),
      dead_letters: this.deadLetters.counts(),
    };
  }
}
