import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { OrderCreatedEvent, settleOrder, TOPICS } from '@app/contracts';
import { KafkaEvent, recordId, recordSource } from '@app/kafka';
import { EmailsService } from './emails.service';

@Controller()
export class OrderEventsController {
  constructor(private readonly emails: EmailsService) {}

  @EventPattern(TOPICS.orderCreated)
  async onOrderCreated(@KafkaEvent(OrderCreatedEvent) event: OrderCreatedEvent, @Ctx() ctx: KafkaContext): Promise<void> {
    const source = recordSource(ctx);
    await this.emails.confirmOrder(settleOrder(event, recordId(source), source.timestamp));
  }
}
