// class-transformer's @Type reads decorator metadata: the polyfill must load before this class.
import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsString,
  IsUUID,
  Length,
  Min,
  ValidateNested,
} from 'class-validator';
import { CartItemDto } from './cart-item.dto';

export class OrderCreatedEvent {
  @IsUUID()
  order_id!: string;

  @IsString()
  @Length(1, 100)
  payment_id!: string;

  @IsInt()
  @Min(1)
  user_id!: number;

  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => CartItemDto)
  items!: CartItemDto[];

  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  total!: number;

  @IsIn(['confirmed'])
  status!: 'confirmed';

  @IsISO8601()
  created_at!: string;

  @IsString()
  @Length(1, 64)
  instance_id!: string;
}
