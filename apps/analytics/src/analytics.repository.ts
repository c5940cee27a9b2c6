import { Injectable } from '@nestjs/common';
import type { CartItemDto } from '@app/contracts';
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

  private async recordMany(events: ChainEvent[]): Promise<void[]> {
    await this.db.query(
      `INSERT INTO analytics.events (topic, event_id, user_id, amount, items)
       SELECT topic, event_id, user_id, amount, items
       FROM jsonb_to_recordset($1::jsonb) AS e(topic text, event_id text, user_id integer, amount numeric, items jsonb)
       ON CONFLICT (topic, event_id) DO NOTHING`,
      [JSON.stringify(events)],
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
      `SELECT floor(extract(epoch FROM received_at) / $2)::bigint AS bucket, count(*) AS count
       FROM analytics.events
       WHERE topic = $1 AND received_at >= now() - make_interval(secs => $3)
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

  async statistics(topics: { payments: string; orders: string; emails: string }): Promise<Statistics> {
    const [totals, products, minutes, [lastMinute]] = await Promise.all([
      this.db.query<{ payments: string; orders: string; emails: string; revenue: string | null; users: string }>(
        `SELECT count(*) FILTER (WHERE topic = $1) AS payments,
                count(*) FILTER (WHERE topic = $2) AS orders,
                count(*) FILTER (WHERE topic = $3) AS emails,
                sum(amount) FILTER (WHERE topic = $1) AS revenue,
                count(DISTINCT user_id) FILTER (WHERE topic = $1) AS users
         FROM analytics.events`,
        [topics.payments, topics.orders, topics.emails],
      ),
      this.db.query<{ name: string; quantity: string; revenue: string }>(
        `SELECT item->>'name' AS name, sum((item->>'quantity')::int) AS quantity,
                sum((item->>'price')::numeric * (item->>'quantity')::int) AS revenue
         FROM analytics.events, jsonb_array_elements(items) AS item
         WHERE topic = $1
         GROUP BY 1 ORDER BY quantity DESC, name LIMIT 10`,
        [topics.payments],
      ),
      this.db.query<{ minute: Date; payments: string; orders: string; emails: string }>(
        `SELECT date_trunc('minute', received_at) AS minute,
                count(*) FILTER (WHERE topic = $1) AS payments,
                count(*) FILTER (WHERE topic = $2) AS orders,
                count(*) FILTER (WHERE topic = $3) AS emails
         FROM analytics.events
         WHERE received_at >= date_trunc('minute', now()) - interval '9 minutes'
         GROUP BY 1 ORDER BY 1`,
        [topics.payments, topics.orders, topics.emails],
      ),
      this.db.query<{ count: string }>(
        `SELECT count(*) FROM analytics.events WHERE received_at >= now() - interval '60 seconds'`,
      ),
    ]);
    const [total] = totals;
    return {
      total_payments: Number(total.payments),
      total_orders: Number(total.orders),
      total_emails: Number(total.emails),
      revenue: Number(total.revenue ?? 0),
      unique_users: Number(total.users),
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
