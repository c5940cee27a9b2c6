import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { OrderCreatedEvent, settleOrder, TOPICS, type SettledOrder } from '@app/contracts';
import { headerText, KafkaEvent } from '@app/kafka';
import { PAYMENT_ACCEPTED_AT_HEADER } from '@app/platform';
import { EmailsService } from './emails.service';

@Controller()
export class OrderEventsController {
  constructor(private readonly emails: EmailsService) {}

  @EventPattern(TOPICS.orderCreated)
  async onOrderCreated(@KafkaEvent(OrderCreatedEvent, settleOrder) order: SettledOrder, @Ctx() ctx: KafkaContext): Promise<void> {
    // Absent from orders written by other clients (the course's order service): then the chain is not timed.
    const acceptedAt = Number(headerText(ctx, PAYMENT_ACCEPTED_AT_HEADER) ?? Number.NaN);
    await this.emails.confirmOrder(order, Number.isFinite(acceptedAt) ? acceptedAt : undefined);
  }
}
