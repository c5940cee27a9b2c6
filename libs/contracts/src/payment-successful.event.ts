import { IsNumber, IsOptional, IsPositive, IsString, Length, Min } from 'class-validator';
import { checkedTotal } from './cart-item.dto';
import { PaymentRequestDto } from './payment-request.dto';
import { IsStorableText } from './storable';

/**
 * `payment-successful`. The course's flood tool sends only `{ user_id, cart, timestamp }`: consumers then
 * derive payment_id from topic, partition and offset, and amount from the cart.
 */
export class PaymentSuccessfulEvent extends PaymentRequestDto {
  /** The order stores it as text: it must be text PostgreSQL can hold, or the order would fail later. */
  @IsOptional()
  @IsString({ message: '$property must be text' })
  @Length(1, 100, { message: '$property must be 1 to 100 characters long' })
  @IsStorableText()
  payment_id?: string;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: '$property must be a number' })
  @IsPositive({ message: '$property must be a positive number' })
  amount?: number;

  /** Epoch seconds. Not read as a date by any consumer: a client that sends milliseconds loses nothing. */
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: '$property must be a number' })
  @Min(0, { message: '$property must not be negative' })
  timestamp!: number;
}

/** A payment event with its identity and amount settled. */
export interface SettledPayment extends PaymentSuccessfulEvent {
  payment_id: string;
  amount: number;
}

/**
 * Fills in what the minimal shape leaves out: the id (from the record, so a redelivery maps to the same
 * payment) and the amount (from the cart). An amount that disagrees with its cart is a contract violation.
 */
export function settlePayment(event: PaymentSuccessfulEvent, recordId: string): SettledPayment {
  const total = checkedTotal(PaymentSuccessfulEvent.name, 'amount', event.amount, event.cart, 'the cart total');
  return Object.assign(event, { payment_id: event.payment_id ?? recordId, amount: total });
}

