import { IsInt, IsNumber, IsOptional, IsPositive, IsString, Length, Max, Min } from 'class-validator';

export const MAX_PRICE = 1_000_000;
// With at most 100 items, a cart's total stays below 10^11, within the stores' numeric(14, 2) columns.
export const MAX_QUANTITY = 1000;

/** One line of a cart, as the course's clients and flood tool send it. */
export class CartItemDto {
  @IsString()
  @Length(1, 100)
  name!: string;

  @IsNumber({ allowNaN: false, allowInfinity: false, maxDecimalPlaces: 2 })
  @IsPositive()
  @Max(MAX_PRICE)
  price!: number;

  /** Taken as 1 when absent, as the course's minimal events omit it. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_QUANTITY)
  quantity: number = 1;
}

/** Cart total in currency units, summed in integer cents so 0.1 + 0.2 stays 0.3. */
export function cartTotal(cart: readonly Pick<CartItemDto, 'price' | 'quantity'>[]): number {
  const cents = cart.reduce((sum, item) => sum + Math.round(item.price * 100) * item.quantity, 0);
  return cents / 100;
}
