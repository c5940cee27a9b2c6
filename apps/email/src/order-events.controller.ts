import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { OrderCreatedEvent, TOPICS } from '@app/contracts';
import { KafkaEvent } from '@app/kafka';
import { EmailsService } from './emails.service';

@Controller()
export class OrderEventsController {
  constructor(private readonly emails: EmailsService) {}

  @EventPattern(TOPICS.orderCreated)
  async onOrderCreated(@KafkaEvent(OrderCreatedEvent) order: OrderCreatedEvent): Promise<void> {
    await this.emails.confirmOrder(order);
  }
}
