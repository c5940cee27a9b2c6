// class-transformer's @Type reads decorator metadata: the polyfill must load before this class.
import 'reflect-metadata';
import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsObject, Max, Min, ValidateNested } from 'class-validator';
import { CartItemDto } from './cart-item.dto';

export const MAX_USER_ID = 2_147_483_647;
export const MAX_CART_ITEMS = 100;

/** Body of `POST /payment`. */
export class PaymentRequestDto {
  /**
   * The customer: orders and emails are listed by it, and a customer's payments keep their order through the chain.
   * @example 42
   */
  @IsInt({ message: '$property must be a whole number' })
  @Min(1, { message: '$property must be at least 1' })
  @Max(MAX_USER_ID, { message: `$property must be at most ${MAX_USER_ID}` })
  user_id!: number;

  /** What is bought: 1 to 100 lines. */
  // The swagger plugin reads ArrayMaxSize's bound only when written as a number: stated here.
  @ApiProperty({ maxItems: MAX_CART_ITEMS })
  @IsArray({ message: '$property must be a list of items' })
  @ArrayMinSize(1, { message: '$property must not be empty' })
  @ArrayMaxSize(MAX_CART_ITEMS, { message: `$property must have at most ${MAX_CART_ITEMS} items` })
  // ValidateNested looks inside a list in the list as if it were the cart, and would pass `[[item]]`.
  @IsObject({ each: true, message: '$property must be a list of items, each an object' })
  @ValidateNested({ each: true })
  @Type(() => CartItemDto)
  cart!: CartItemDto[];
}
