import { randomUUID } from 'node:crypto';

/**
 * A `payment-successful` event as the payment service writes it: `lines` identical lines of one product (a
 * repetitive cart compresses well), and the cart's amount unless a test gives another on purpose.
 */
export function paymentEvent(userId: number, paymentId: string, options: { name?: string; price?: number; lines?: number; amount?: number } = {}) {
  const { name = 'Samsung TV 65" QLED, black, wall mount included', price = 10, lines = 1 } = options;
  const amount = options.amount ?? price * lines;
  const cart = Array.from({ length: lines }, () => ({ name, price, quantity: 1 }));
  return { payment_id: paymentId, user_id: userId, cart, amount, timestamp: Math.floor(Date.now() / 1000) };
}

/** An `order-created` event as the order service writes it, for one unit of one product. */
export function orderCreatedEvent(userId: number, { name, price, paymentPrefix }: { name: string; price: number; paymentPrefix: string }) {
  return {
    order_id: randomUUID(),
    payment_id: `${paymentPrefix}-${randomUUID()}`,
    user_id: userId,
    items: [{ name, price, quantity: 1 }],
    total: price,
    status: 'confirmed',
    created_at: new Date().toISOString(),
    instance_id: 'e2e',
  };
}
