import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsNotEmpty, IsNumber, IsPositive, IsString, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { HasCents, IsStorableText } from './storable';
import { ContractViolation } from './validation';

export const MAX_PRICE = 1_000_000;
// With at most 100 items, a cart's total stays at most 10^11, within the stores' numeric(14, 2) columns
// (below 10^12); the unit spec reads the order migration to hold this to the column.
export const MAX_QUANTITY = 1000;
export const MAX_NAME_LENGTH = 100;

/** One line of a cart, as the course's clients and flood tool send it. */
export class CartItemDto {
  /**
   * The product, as the top products list it.
   * @example "MacBook"
   */
  @IsString({ message: '$property must be text' })
  @IsNotEmpty({ message: '$property must not be empty' })
  @MaxLength(MAX_NAME_LENGTH, { message: `$property must be at most ${MAX_NAME_LENGTH} characters long` })
  @IsStorableText()
  name!: string;

  /**
   * Price of one, in the shop's currency, with at most two decimals.
   * @example 1999
   */
  // The swagger plugin documents IsPositive as "at least 1": a price is above 0, cents allowed.
  @ApiProperty({ minimum: 0, exclusiveMinimum: true })
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: '$property must be a number' })
  @IsPositive({ message: '$property must be a positive number' })
  @Max(MAX_PRICE, { message: `$property must be at most ${MAX_PRICE}` })
  @HasCents()
  price!: number;

  /**
   * Taken as 1 when absent, as the course's minimal events omit it.
   * @example 1
   */
  // Optional for the swagger plugin too, which reads only a `?` (this field has a default instead).
  @ApiPropertyOptional()
  // Absent only: IsOptional would also pass null, which counts as no quantity, a line worth 0.
  @ValidateIf((_, value) => value !== undefined)
  @IsInt({ message: '$property must be a whole number' })
  @Min(1, { message: '$property must be at least 1' })
  @Max(MAX_QUANTITY, { message: `$property must be at most ${MAX_QUANTITY}` })
  quantity: number = 1;
}

/** Cart total in currency units, summed in integer cents so 0.1 + 0.2 stays 0.3. */
export function cartTotal(cart: readonly Pick<CartItemDto, 'price' | 'quantity'>[]): number {
  const cents = cart.reduce((sum, item) => sum + Math.round(item.price * 100) * item.quantity, 0);
  return cents / 100;
}

/**
 * The total of `items`, checked against the total an event states (if it states one): a cent or more apart, the
 * event contradicts itself and breaks its contract. `what` names the computed total in the message.
 */
export function checkedTotal(
  contract: string,
  field: string,
  stated: number | undefined,
  items: readonly Pick<CartItemDto, 'price' | 'quantity'>[],
  what: string,
): number {
  const total = cartTotal(items);
  if (stated !== undefined && Math.abs(stated - total) >= 0.005) {
    throw new ContractViolation(contract, [{ field, messages: [`${field} ${stated} does not match ${what} ${total}`] }]);
  }
  return total;
}
