// class-transformer's @Type reads decorator metadata: the polyfill must load before this class.
import 'reflect-metadata';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { MAX_USER_ID } from '@app/contracts';

/** `?page=&limit=` on every list endpoint. */
export class PageQuery {
  // Optional for the swagger plugin too, which reads only a `?` (these fields have defaults instead).
  /** The page, from 1. */
  @ApiPropertyOptional({ default: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page = 1;

  /** Items per page, at most 200. */
  @ApiPropertyOptional({ default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit = 20;

  get offset(): number {
    return (this.page - 1) * this.limit;
  }
}

/** A list query that can also narrow to one customer. */
export class UserPageQuery extends PageQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_USER_ID)
  user_id?: number;
}

export interface Page<T> {
  items: T[];
  page: number;
  limit: number;
  total: number;
}
