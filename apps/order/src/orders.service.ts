import { Injectable } from '@nestjs/common';
import { TOPICS, type OrderCreatedEvent, type SettledPayment } from '@app/contracts';
import { EventPublisher, type RecordSource } from '@app/kafka';
import { PAYMENT_ACCEPTED_AT_HEADER, ServiceIdentity } from '@app/platform';
import { OrdersRepository, type Order } from './orders.repository';

@Injectable()
export class OrdersService {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly publisher: EventPublisher,
    private readonly identity: ServiceIdentity,
  ) {}

  /**
   * Stores the payment's order once and announces it. The announcement is repeated on a redelivery:
   * if the process died between the insert and the publish, that is how `order-created` still goes out
   * (downstream services count each order once).
   */
  async placeOrder(payment: SettledPayment, source: RecordSource): Promise<Order> {
    const order = await this.orders.insertOnce({
      payment_id: payment.payment_id,
      user_id: payment.user_id,
      items: payment.cart,
      total: payment.amount,
      instance_id: this.identity.instanceId,
      source_partition: source.partition,
      source_offset: source.offset,
    });
    const event: OrderCreatedEvent = {
      order_id: order.order_id,
      payment_id: order.payment_id,
      user_id: order.user_id,
      items: order.items,
      total: order.total,
      status: order.status,
      created_at: order.created_at,
      instance_id: order.instance_id,
    };
    // When the payment was accepted travels with the order, so the email service can time the whole chain.
    await this.publisher.publish(TOPICS.orderCreated, { key: String(order.user_id), value: event, headers: { [PAYMENT_ACCEPTED_AT_HEADER]: source.timestamp } });
    return order;
  }
}
