import { TOPICS } from '@app/contracts';
import type { Database } from '@app/platform';

/** One row of `events` events per age, `ages` whole seconds before `asOf` (the database's clock when null). */
export async function insertAged(db: Database, ages: number[], options: { asOf?: Date; topic?: string; events?: number } = {}): Promise<void> {
  await db.query(
    `INSERT INTO analytics.event_seconds (second, topic, events)
     SELECT date_trunc('second', coalesce($1::timestamptz, now())) - make_interval(secs => age), $2, $3
     FROM unnest($4::int[]) AS age`,
    [options.asOf ?? null, options.topic ?? TOPICS.orderCreated, options.events ?? 1, ages],
  );
}
