// class-transformer's @Type reads decorator metadata: the polyfill must load before this class.
import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsOptional,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsObject,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { CartItemDto, checkedTotal } from './cart-item.dto';
import { MAX_CART_ITEMS, MAX_USER_ID } from './payment-request.dto';
import { IsStorableText } from './storable';
import { derivedUuid, writtenAt } from './derived-id';
import { IsEventId } from './event-id';

/**
 * `order-created`. The course's order service writes a smaller shape: an integer `order_id` (a counter that
 * starts again at 1 when it restarts), no `payment_id`, `total`, `created_at` or `instance_id`, and no key.
 * Consumers take it as they take the minimal payment, deriving what it leaves out (see settleOrder).
 */
export class OrderCreatedEvent {
  @IsEventId()
  order_id!: string | number;

  @IsOptional()
  @IsString()
  @Length(1, 100)
  @IsStorableText()
  payment_id?: string;

  @IsInt()
  @Min(1)
  @Max(MAX_USER_ID)
  user_id!: number;

  /** An order's items are its payment's cart: the same bounds. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_CART_ITEMS)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => CartItemDto)
  items!: CartItemDto[];

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  total?: number;

  @IsIn(['confirmed'])
  status!: 'confirmed';

  /** Strict: a date that does not exist (February 30th) is refused here, not by the database later. */
  @IsOptional()
  @IsISO8601({ strict: true })
  created_at?: string;

  @IsOptional()
  @IsString()
  @Length(1, 64)
  @IsStorableText()
  instance_id?: string;
}

/** An order event with everything settled: what the project's own order service writes. */
export interface SettledOrder extends OrderCreatedEvent {
  order_id: string;
  payment_id: string;
  total: number;
  created_at: string;
  instance_id: string;
}

/** Who wrote an order event that does not say (the course's order service). */
export const UNKNOWN_INSTANCE = 'unknown';

/**
 * Fills in what the course's shape leaves out, from the record that brought it (`recordId`, see the consumers'
 * recordId, and its Kafka timestamp): an order id that is not a UUID is replaced by one derived from the record,
 * since the course's counter repeats; the payment id is the record's; the total comes from the items (a total
 * that disagrees with them is a contract violation); the time is when the record was written.
 */
export function settleOrder(event: OrderCreatedEvent, recordId: string, timestamp: string): SettledOrder {
  const total = checkedTotal(OrderCreatedEvent.name, 'total', event.total, event.items, "the items' total");
  return Object.assign(event, {
    order_id: typeof event.order_id === 'string' ? event.order_id : derivedUuid(`order:${recordId}`),
    payment_id: event.payment_id ?? recordId,
    total,
    created_at: event.created_at ?? writtenAt(timestamp),
    instance_id: event.instance_id ?? UNKNOWN_INSTANCE,
  });
}
