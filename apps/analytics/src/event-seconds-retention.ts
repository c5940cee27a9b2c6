import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Database } from '@app/platform';

/**
 * How long `analytics.event_seconds` keeps a row. Its readers go back at most 10 minutes (statistics()'s
 * events per minute; the live page's orders per second 5, events_last_minute 60 s): an hour is that and margin.
 */
export const EVENT_SECONDS_KEPT_S = 60 * 60;
const PURGE_EVERY_MS = 10 * 60 * 1000;
/** Rows one DELETE removes at most: a backlog of months is deleted in statements well under the statement timeout. */
const PURGE_BATCH = 10_000;

/** Deletes the per-second counts no reader looks at any more, every 10 minutes; the running totals stay. */
@Injectable()
export class EventSecondsRetention implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(EventSecondsRetention.name);
  private purgeTimer?: NodeJS.Timeout;

  constructor(private readonly db: Database) {}

  /**
   * Deletes the rows older than EVENT_SECONDS_KEPT_S before `asOf` (the database's clock, which the readers
   * use, unless given) and returns how many. The range on `second`, the primary key's first column, is an index scan.
   */
  async purge(asOf?: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const [{ removed }] = await this.db.query<{ removed: string }>(
        `WITH expired AS (
           SELECT second, topic FROM analytics.event_seconds
           WHERE second < coalesce($1::timestamptz, now()) - make_interval(secs => $2)
           ORDER BY second LIMIT $3
         ), deleted AS (
           DELETE FROM analytics.event_seconds s USING expired e WHERE s.second = e.second AND s.topic = e.topic RETURNING 1
         )
         SELECT count(*) AS removed FROM deleted`,
        [asOf ?? null, EVENT_SECONDS_KEPT_S, PURGE_BATCH],
      );
      total += Number(removed);
      if (Number(removed) < PURGE_BATCH) return total;
    }
  }

  onModuleInit(): void {
    this.purgeTimer = setInterval(() => {
      this.purge().catch((error: Error) => this.logger.warn(`old per-second event counts not purged: ${error.message}`));
    }, PURGE_EVERY_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
  }
}
