import { Injectable } from '@nestjs/common';
import { TOPICS, type CartItemDto } from '@app/contracts';
import { isRecordFault } from '@app/kafka';
import { Coalescer, Database } from '@app/platform';

export interface ChainEvent {
  topic: string;
  event_id: string;
  user_id: number;
  amount?: number;
  items?: CartItemDto[];
}

export interface ProductStats {
  name: string;
  quantity: number;
  revenue: number;
}

export interface MinuteStats {
  minute: string;
  payments: number;
  orders: number;
  emails: number;
}

export interface Statistics {
  total_payments: number;
  total_orders: number;
  total_emails: number;
  revenue: number;
  unique_users: number;
  top_products: ProductStats[];
  /** Events received in the last 60 seconds, all topics. */
  events_last_minute: number;
  /** Per minute, the last ten minutes, oldest first. */
  events_per_minute: MinuteStats[];
}

@Injectable()
export class AnalyticsRepository {
  /** Events recorded side by side (the records of one fetched batch, of any topic) share one INSERT. */
  private readonly records = new Coalescer<ChainEvent, void>((events) => this.recordMany(events), { maxBatch: 1000, isolate: isRecordFault });

  /** Records an event once: a redelivered one is already counted and changes nothing. */
  record(event: ChainEvent): Promise<void> {
    return this.records.submit(event);
  }

  /**
   * One statement: the events new to the table, and what they add to the running totals, the payers and the
   * products' sales. Events already recorded (redeliveries) are not returned by the INSERT, so they add
   * nothing.
   */
  private async recordMany(events: ChainEvent[]): Promise<void[]> {
    await this.db.query(
      `WITH inserted AS (
         INSERT INTO analytics.events (topic, event_id, user_id, amount, items)
         SELECT topic, event_id, user_id, amount, items
         FROM jsonb_to_recordset($1::jsonb) AS e(topic text, event_id text, user_id integer, amount numeric, items jsonb)
         ON CONFLICT (topic, event_id) DO NOTHING
         RETURNING topic, user_id, amount, items, received_at
       ), per_second AS (
         INSERT INTO analytics.event_seconds AS s (second, topic, events)
         SELECT date_trunc('second', received_at), topic, count(*) FROM inserted
         GROUP BY 1, 2 ORDER BY 1, 2
         ON CONFLICT (second, topic) DO UPDATE SET events = s.events + EXCLUDED.events
       ), new_payers AS (
         INSERT INTO analytics.payers (user_id)
         SELECT DISTINCT user_id FROM inserted WHERE topic = $2
         ON CONFLICT (user_id) DO NOTHING
         RETURNING user_id
       ), sales AS (
         INSERT INTO analytics.product_sales AS p (name, quantity, revenue)
         SELECT item->>'name', sum((item->>'quantity')::int), sum((item->>'price')::numeric * (item->>'quantity')::int)
         FROM inserted, jsonb_array_elements(items) AS item
         WHERE topic = $2
         GROUP BY 1 ORDER BY 1
         ON CONFLICT (name) DO UPDATE SET quantity = p.quantity + EXCLUDED.quantity, revenue = p.revenue + EXCLUDED.revenue
       )
       INSERT INTO analytics.topic_totals AS t (topic, events, amount, users)
       SELECT topic, count(*), coalesce(sum(amount), 0), CASE WHEN topic = $2 THEN (SELECT count(*) FROM new_payers) ELSE 0 END
       FROM inserted
       GROUP BY topic ORDER BY topic
       ON CONFLICT (topic) DO UPDATE SET events = t.events + EXCLUDED.events, amount = t.amount + EXCLUDED.amount, users = t.users + EXCLUDED.users`,
      [JSON.stringify(events), TOPICS.paymentSuccessful],
    );
    return events.map(() => undefined);
  }

  constructor(private readonly db: Database) {}

  /**
   * Events of `topic` per second over the last `seconds`, in buckets of `bucketSeconds` (oldest first, the
   * current, unfinished bucket last); a bucket with none is 0.
   */
  async ratePerSecond(topic: string, seconds: number, bucketSeconds: number): Promise<Array<{ at: string; rate: number }>> {
    const rows = await this.db.query<{ bucket: string; count: string }>(
      `SELECT floor(extract(epoch FROM second) / $2)::bigint AS bucket, sum(events) AS count
       FROM analytics.event_seconds
       WHERE topic = $1 AND second >= now() - make_interval(secs => $3)
       GROUP BY 1`,
      [topic, bucketSeconds, seconds],
    );
    const counts = new Map(rows.map((r) => [Number(r.bucket), Number(r.count)]));
    const last = Math.floor(Date.now() / 1000 / bucketSeconds);
    const buckets = Math.ceil(seconds / bucketSeconds);
    return Array.from({ length: buckets }, (_, i) => {
      const bucket = last - buckets + 1 + i;
      return { at: new Date(bucket * bucketSeconds * 1000).toISOString(), rate: (counts.get(bucket) ?? 0) / bucketSeconds };
    });
  }

  /** Read from the running totals: a few rows, however many events there have been. */
  async statistics(): Promise<Statistics> {
    const [totals, products, minutes, [lastMinute]] = await Promise.all([
      this.db.query<{ topic: string; events: string; amount: string; users: string }>('SELECT topic, events, amount, users FROM analytics.topic_totals'),
      this.db.query<{ name: string; quantity: string; revenue: string }>(
        'SELECT name, quantity, revenue FROM analytics.product_sales ORDER BY quantity DESC, name LIMIT 10',
      ),
      this.db.query<{ minute: Date; payments: string; orders: string; emails: string }>(
        `SELECT date_trunc('minute', second) AS minute,
                coalesce(sum(events) FILTER (WHERE topic = $1), 0) AS payments,
                coalesce(sum(events) FILTER (WHERE topic = $2), 0) AS orders,
                coalesce(sum(events) FILTER (WHERE topic = $3), 0) AS emails
         FROM analytics.event_seconds
         WHERE second >= date_trunc('minute', now()) - interval '9 minutes'
         GROUP BY 1 ORDER BY 1`,
        [TOPICS.paymentSuccessful, TOPICS.orderCreated, TOPICS.emailSent],
      ),
      this.db.query<{ count: string }>(
        // Whole seconds: the one 60 seconds ago counts in full.
        `SELECT coalesce(sum(events), 0) AS count FROM analytics.event_seconds WHERE second >= date_trunc('second', now()) - interval '60 seconds'`,
      ),
    ]);
    const of = (topic: string) => totals.find((t) => t.topic === topic);
    const payments = of(TOPICS.paymentSuccessful);
    return {
      total_payments: Number(payments?.events ?? 0),
      total_orders: Number(of(TOPICS.orderCreated)?.events ?? 0),
      total_emails: Number(of(TOPICS.emailSent)?.events ?? 0),
      revenue: Number(payments?.amount ?? 0),
      unique_users: Number(payments?.users ?? 0),
      top_products: products.map((p) => ({ name: p.name, quantity: Number(p.quantity), revenue: Number(p.revenue) })),
      events_last_minute: Number(lastMinute.count),
      events_per_minute: minutes.map((m) => ({
        minute: m.minute.toISOString(),
        payments: Number(m.payments),
        orders: Number(m.orders),
        emails: Number(m.emails),
      })),
    };
  }
}
