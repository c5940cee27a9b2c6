import { randomUUID } from 'node:crypto';
import { cartTotal, type SettledPayment } from '@app/contracts';

export interface Product {
  name: string;
  price: number;
}

export interface CartLine extends Product {
  quantity: number;
}

/** What sells on Black Friday: the flood's carts are drawn from it. */
export const CATALOGUE: readonly Product[] = [
  { name: 'iPhone 15 Pro', price: 999 },
  { name: 'MacBook Pro M3', price: 1999 },
  { name: 'AirPods Pro', price: 249 },
  { name: 'iPad Air', price: 599 },
  { name: 'Apple Watch', price: 399 },
  { name: 'PlayStation 5', price: 499 },
  { name: 'Samsung TV 65"', price: 899 },
  { name: 'Nintendo Switch', price: 299 },
  { name: 'Xbox Series X', price: 499 },
  { name: 'Dyson V15', price: 649 },
];

export const MAX_CART_LINES = 5;
export const MAX_LINE_QUANTITY = 3;

/** An integer in [min, max]. Math.random is enough: the carts need variety, not unpredictability. */
function between(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** 1 to 5 different products, 1 to 3 of each: a product appears once per cart, as in a real basket. */
export function randomCart(): CartLine[] {
  const pool = [...CATALOGUE];
  return Array.from({ length: between(1, MAX_CART_LINES) }, () => {
    const [product] = pool.splice(between(0, pool.length - 1), 1);
    return { ...product, quantity: between(1, MAX_LINE_QUANTITY) };
  });
}

/** A complete `payment-successful` event, as the payment service would publish it. */
export function randomPayment(userId: number): SettledPayment {
  const cart = randomCart();
  return {
    payment_id: randomUUID(),
    user_id: userId,
    cart,
    amount: cartTotal(cart),
    timestamp: Math.floor(Date.now() / 1000),
  };
}
