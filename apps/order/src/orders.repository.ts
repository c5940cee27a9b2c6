import { Injectable } from '@nestjs/common';
import type { CartItemDto } from '@app/contracts';
import { isRecordFault } from '@app/kafka';
import { Coalescer, Database, type InsertOnceSpec, type Page, type UserPageQuery } from '@app/platform';

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

const INSERT_ONCE: InsertOnceSpec = {
  table: 'orders.orders',
  columns: {
    payment_id: 'text',
    user_id: 'integer',
    items: 'jsonb',
    total: 'numeric',
    instance_id: 'text',
    source_partition: 'integer',
    source_offset: 'bigint',
  },
  key: 'payment_id',
  returning: COLUMNS,
};

@Injectable()
export class OrdersRepository {
  /** Orders placed side by side (the records of one fetched batch) share one INSERT. */
  private readonly inserts = new Coalescer<NewOrder, Order>(
    async (orders) => (await this.db.insertOnceMany<OrderRow>(INSERT_ONCE, orders)).map(toOrder),
    { maxBatch: 500, isolate: isRecordFault },
  );

  constructor(private readonly db: Database) {}

  /** Inserts the order of a payment, or returns the one a previous delivery already made. */
  insertOnce(order: NewOrder): Promise<Order> {
    return this.inserts.submit(order);
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
