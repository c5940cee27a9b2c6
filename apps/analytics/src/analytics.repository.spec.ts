import { TOPICS } from '@app/contracts';
import type { Database } from '@app/platform';
import { AnalyticsRepository, type MinuteStats } from './analytics.repository';
import { insertAged } from '../../../test/support/analytics-seconds';
import { OwnDatabase } from '../../../test/support/own-database';

const database = new OwnDatabase('repository');
const BUCKET_MS = 10_000;

/** The database's clock, to the second: rows are placed by it, as `record()` places them by `received_at`. */
async function databaseSecond(db: Database): Promise<Date> {
  const [{ now }] = await db.query<{ now: Date }>(`SELECT date_trunc('second', now()) AS now`);
  return now;
}

/** Four events received now, through the consumer's path (record() fills event_seconds from received_at). */
function recordNow(analytics: AnalyticsRepository): Promise<void[]> {
  return Promise.all([
    analytics.record({ topic: TOPICS.paymentSuccessful, event_id: 'p-now', user_id: 1, amount: 10, items: [] }),
    analytics.record({ topic: TOPICS.orderCreated, event_id: 'o-now-1', user_id: 1, amount: 10 }),
    analytics.record({ topic: TOPICS.orderCreated, event_id: 'o-now-2', user_id: 2, amount: 20 }),
    analytics.record({ topic: TOPICS.emailSent, event_id: 'e-now', user_id: 1 }),
  ]);
}

const minuteOf = (second: Date) => new Date(Math.floor(second.getTime() / 60_000) * 60_000).toISOString();

/** AnalyticsRepository's readings for the live page and /statistics, against the real server and migrations. */
describe('the analytics figures read from per-second event counts', () => {
  let db: Database;
  let analytics: AnalyticsRepository;

  beforeAll(async () => {
    db = await database.open('analytics');
  });

  afterAll(() => database.close());

  beforeEach(async () => {
    await db.query('TRUNCATE analytics.events, analytics.event_seconds, analytics.topic_totals, analytics.payers, analytics.product_sales');
    // A fresh repository per test: its coalescer holds nothing from another test's records.
    analytics = new AnalyticsRepository(db);
  });

  it('shows 30 orders in a 10-second bucket as 3 orders per second, and 0 in the buckets without orders', async () => {
    // Buckets three and twenty before the current one: finished, and still inside the five minutes if the
    // clock crosses a bucket boundary before the read.
    const [{ current }] = await db.query<{ current: number }>(`SELECT floor(extract(epoch FROM now()) * 1000 / $1)::int AS current`, [BUCKET_MS]);
    const busy = current - 3;
    const quiet = current - 20;
    const bucketEnd = (bucket: number) => new Date((bucket + 1) * BUCKET_MS);
    await insertAged(db, [8], { asOf: bucketEnd(busy), events: 25 });
    await insertAged(db, [3], { asOf: bucketEnd(busy), events: 5 });
    await insertAged(db, [6], { asOf: bucketEnd(quiet), events: 7 });
    // Payments in the same seconds, and orders older than the five minutes, are not orders of the window.
    await insertAged(db, [8, 3], { asOf: bucketEnd(busy), topic: TOPICS.paymentSuccessful, events: 50 });
    await insertAged(db, [310, 400, 3600], { events: 100 });

    const before = Math.floor(Date.now() / BUCKET_MS);
    const rate = await analytics.ratePerSecond(TOPICS.orderCreated, 300, 10);
    const after = Math.floor(Date.now() / BUCKET_MS);

    const at = (bucket: number) => new Date(bucket * BUCKET_MS).toISOString();
    expect(rate.find((b) => b.at === at(busy))?.rate).toBe(3);
    expect(rate.find((b) => b.at === at(quiet))?.rate).toBe(0.7);
    // The last bucket is the current one, whichever side of a boundary the read fell on.
    const last = new Date(rate[rate.length - 1].at).getTime() / BUCKET_MS;
    expect(last).toBeGreaterThanOrEqual(before);
    expect(last).toBeLessThanOrEqual(after);
    const rates: Record<string, number> = { [at(busy)]: 3, [at(quiet)]: 0.7 };
    const expected = Array.from({ length: 30 }, (_, i) => at(last - 29 + i)).map((start) => ({ at: start, rate: rates[start] ?? 0 }));
    expect(rate).toEqual(expected);
  });

  it('counts as the last minute the events of every topic from the last 60 seconds, not older ones', async () => {
    await recordNow(analytics);
    // 55 s old stays inside the minute however long the test takes to read it; 65 s old never enters it.
    await insertAged(db, [5, 55], { topic: TOPICS.paymentSuccessful, events: 3 });
    await insertAged(db, [30], { topic: TOPICS.orderCreated, events: 7 });
    await insertAged(db, [45], { topic: TOPICS.emailSent, events: 2 });
    await insertAged(db, [65, 90, 300], { topic: TOPICS.orderCreated, events: 100 });
    await insertAged(db, [65, 400], { topic: TOPICS.emailSent, events: 100 });

    const statistics = await analytics.statistics();

    expect(statistics.events_last_minute).toBe(4 + 3 + 3 + 7 + 2);
  });

  it('counts payments, orders and emails per minute over the last ten minutes, oldest minute first', async () => {
    await recordNow(analytics);
    const asOf = await databaseSecond(db);
    const aged: Array<{ topic: string; ages: number[]; events: number }> = [
      { topic: TOPICS.paymentSuccessful, ages: [30], events: 4 },
      { topic: TOPICS.paymentSuccessful, ages: [250], events: 2 },
      { topic: TOPICS.orderCreated, ages: [30], events: 3 },
      { topic: TOPICS.orderCreated, ages: [250, 251], events: 1 },
      { topic: TOPICS.orderCreated, ages: [480], events: 5 },
      { topic: TOPICS.emailSent, ages: [130], events: 6 },
    ];
    for (const { topic, ages, events } of aged) await insertAged(db, ages, { asOf, topic, events });
    // Older than the ten minutes shown, whichever minute the read falls in (the oldest shown begins at most 600 s back).
    for (const topic of [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent]) {
      await insertAged(db, [720, 3600], { asOf, topic, events: 100 });
    }

    // The expected minutes, from the seconds the test placed and the recorded events' own received_at.
    const recorded = await db.query<{ topic: string; received_at: Date }>('SELECT topic, received_at FROM analytics.events');
    const counted = [
      ...recorded.map((r) => ({ topic: r.topic, second: r.received_at, events: 1 })),
      ...aged.flatMap(({ topic, ages, events }) => ages.map((age) => ({ topic, second: new Date(asOf.getTime() - age * 1000), events }))),
    ];
    const minutes = new Map<string, MinuteStats>();
    for (const { topic, second, events } of counted) {
      const minute = minuteOf(second);
      const stats = minutes.get(minute) ?? { minute, payments: 0, orders: 0, emails: 0 };
      if (topic === TOPICS.paymentSuccessful) stats.payments += events;
      if (topic === TOPICS.orderCreated) stats.orders += events;
      if (topic === TOPICS.emailSent) stats.emails += events;
      minutes.set(minute, stats);
    }
    const expected = [...minutes.values()].sort((a, b) => a.minute.localeCompare(b.minute));

    const statistics = await analytics.statistics();

    expect(statistics.events_per_minute).toEqual(expected);
    // The expectation itself holds every event placed: the 4 recorded, 6 payments, 10 orders and 6 emails.
    expect(expected.reduce((sum, m) => sum + m.payments + m.orders + m.emails, 0)).toBe(4 + 6 + 10 + 6);
  });
});
