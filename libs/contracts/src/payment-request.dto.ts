// class-transformer's @Type reads decorator metadata: the polyfill must load before this class.
import 'reflect-metadata';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, Max, Min, ValidateNested } from 'class-validator';
import { CartItemDto } from './cart-item.dto';

export const MAX_USER_ID = 2_147_483_647;
export const MAX_CART_ITEMS = 100;

/** Body of `POST /payment`. */
export class PaymentRequestDto {
  @IsInt()
  @Min(1)
  @Max(MAX_USER_ID)
  user_id!: number;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_CART_ITEMS)
  @ValidateNested({ each: true })
  @Type(() => CartItemDto)
  cart!: CartItemDto[];
}
