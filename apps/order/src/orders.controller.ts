import { Controller, Get, NotFoundException, Param, ParseUUIDPipe, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ReadTokenGuard, UserPageQuery, type Page } from '@app/platform';
import { OrdersRepository, type Order } from './orders.repository';

/** Every instance reads the one orders table, so any of them lists every order; behind READ_TOKEN when it is set. */
@Controller('orders')
@UseGuards(ReadTokenGuard)
@ApiBearerAuth()
export class OrdersController {
  constructor(private readonly orders: OrdersRepository) {}

  @Get()
  list(@Query() query: UserPageQuery): Promise<Page<Order>> {
    return this.orders.list(query);
  }

  @Get(':id')
  async get(@Param('id', new ParseUUIDPipe()) id: string): Promise<Order> {
    const order = await this.orders.findById(id);
    if (!order) throw new NotFoundException(`no order ${id}`);
    return order;
  }
}
