import { Injectable } from '@nestjs/common';
import type { CartItemDto } from '@app/contracts';
import { Database, type Page, type UserPageQuery } from '@app/platform';

export interface Order {
  order_id: string;
  payment_id: string;
  user_id: number;
  items: CartItemDto[];
  total: number;
  status: 'confirmed';
  instance_id: string;
  source_partition: number;
  source_offset: string;
  created_at: string;
}

export type NewOrder = Omit<Order, 'order_id' | 'status' | 'created_at'>;

interface OrderRow extends Omit<Order, 'total' | 'created_at'> {
  total: string;
  created_at: Date;
}

const COLUMNS = 'order_id, payment_id, user_id, items, total, status, instance_id, source_partition, source_offset, created_at';

@Injectable()
export class OrdersRepository {
  constructor(private readonly db: Database) {}

  /** Inserts the order of a payment, or returns the one a previous delivery already made. */
  async insertOnce(order: NewOrder): Promise<{ order: Order; created: boolean }> {
    const inserted = await this.db.query<OrderRow>(
      `INSERT INTO orders.orders (payment_id, user_id, items, total, instance_id, source_partition, source_offset)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (payment_id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        order.payment_id,
        order.user_id,
        JSON.stringify(order.items),
        order.total,
        order.instance_id,
        order.source_partition,
        order.source_offset,
      ],
    );
    if (inserted.length > 0) return { order: toOrder(inserted[0]), created: true };
    const [existing] = await this.db.query<OrderRow>(`SELECT ${COLUMNS} FROM orders.orders WHERE payment_id = $1`, [
      order.payment_id,
    ]);
    return { order: toOrder(existing), created: false };
  }

  async list(query: UserPageQuery): Promise<Page<Order>> {
    const { rows, total } = await this.db.page<OrderRow>('orders.orders', COLUMNS, 'created_at DESC, order_id DESC', query);
    return { items: rows.map(toOrder), page: query.page, limit: query.limit, total };
  }


  async findById(orderId: string): Promise<Order | undefined> {
    const [row] = await this.db.query<OrderRow>(`SELECT ${COLUMNS} FROM orders.orders WHERE order_id = $1`, [orderId]);
    return row && toOrder(row);
  }
}

function toOrder(row: OrderRow): Order {
  return { ...row, total: Number(row.total), created_at: row.created_at.toISOString() };
}
