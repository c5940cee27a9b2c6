import { TOPICS } from '@app/contracts';
import type { Database } from '@app/platform';
import { AnalyticsRepository } from './analytics.repository';
import { insertAged } from '../../../test/support/analytics-seconds';
import { OwnDatabase } from '../../../test/support/own-database';
import { EVENT_SECONDS_KEPT_S, EventSecondsRetention } from './event-seconds-retention';

const database = new OwnDatabase('retention');

/** The rows' ages in seconds before `asOf`, youngest first. */
async function agesLeft(db: Database, asOf: Date): Promise<number[]> {
  const rows = await db.query<{ age: number }>('SELECT extract(epoch FROM $1::timestamptz - second)::int AS age FROM analytics.event_seconds ORDER BY 1', [asOf]);
  return rows.map((r) => r.age);
}

/** EventSecondsRetention.purge against the real server, on the analytics schema its migrations make. */
describe('purging old per-second event counts', () => {
  let db: Database;
  let retention: EventSecondsRetention;

  beforeAll(async () => {
    db = await database.open('analytics');
    retention = new EventSecondsRetention(db);
  });

  afterAll(async () => {
    await database.close();
  });

  beforeEach(() => db.query('DELETE FROM analytics.event_seconds'));

  it('deletes the rows older than the kept window and keeps the one exactly at its edge and every newer one', async () => {
    const [{ asOf }] = await db.query<{ asOf: Date }>(`SELECT date_trunc('second', now()) AS "asOf"`);
    const kept = [0, 60, 600, EVENT_SECONDS_KEPT_S - 1, EVENT_SECONDS_KEPT_S];
    await insertAged(db, [...kept, EVENT_SECONDS_KEPT_S + 1, 2 * 86_400], { asOf });
    await insertAged(db, [EVENT_SECONDS_KEPT_S, EVENT_SECONDS_KEPT_S + 1], { asOf, topic: TOPICS.emailSent });

    expect(await retention.purge(asOf)).toBe(3);
    expect(await agesLeft(db, asOf)).toEqual([...kept, EVENT_SECONDS_KEPT_S]);
  });

  it('works through a backlog larger than one DELETE removes', async () => {
    await db.query(
      `INSERT INTO analytics.event_seconds (second, topic, events)
       SELECT date_trunc('second', now()) - interval '2 days' - make_interval(secs => i), $1, 1 FROM generate_series(1, 25000) AS i`,
      [TOPICS.paymentSuccessful],
    );
    await insertAged(db, [0, 10]);

    expect(await retention.purge()).toBe(25_000);
    expect(await db.query('SELECT topic FROM analytics.event_seconds')).toEqual([{ topic: TOPICS.orderCreated }, { topic: TOPICS.orderCreated }]);
  });

  it('changes nothing the statistics and the live page read', async () => {
    const analytics = new AnalyticsRepository(db);
    // Read 5 s, 30 s, 4 and 8 minutes back; 20 minutes is read by nobody but kept; 2 hours and a day are purged.
    await insertAged(db, [5, 30, 240, 480, 1200, 7200, 86_400], { events: 3 });
    await insertAged(db, [30, 480, 86_400], { topic: TOPICS.paymentSuccessful, events: 2 });
    const read = async () => {
      const [statistics, rate] = await Promise.all([analytics.statistics(), analytics.ratePerSecond(TOPICS.orderCreated, 300, 10)]);
      // Only the buckets with events: the empty ones shift if a 10-second boundary passes between two reads.
      return { perMinute: statistics.events_per_minute, lastMinute: statistics.events_last_minute, rate: rate.filter((b) => b.rate > 0) };
    };
    const before = await read();

    expect(await retention.purge()).toBe(3);
    expect(before.lastMinute).toBe(3 + 3 + 2);
    expect(before.rate).toHaveLength(3);
    expect(await read()).toEqual(before);
  });
});
