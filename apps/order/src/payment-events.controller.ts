import { Controller, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { PaymentSuccessfulEvent, settlePayment, TOPICS, type SettledPayment } from '@app/contracts';
import { KafkaEvent, recordSource } from '@app/kafka';
import { Environment } from '@app/platform';
import { OrdersService } from './orders.service';

@Controller()
export class PaymentEventsController {
  private readonly logger = new Logger('Orders');

  constructor(
    private readonly orders: OrdersService,
    private readonly env: Environment,
  ) {}

  @EventPattern(TOPICS.paymentSuccessful)
  async onPaymentSuccessful(
    @KafkaEvent(PaymentSuccessfulEvent, settlePayment) payment: SettledPayment,
    @Ctx() ctx: KafkaContext,
  ): Promise<void> {
    const source = recordSource(ctx);
    this.logger.log(
      { payment_id: payment.payment_id, user_id: payment.user_id },
      `[Instance #${this.env.INSTANCE_ID}] [Partition ${source.partition}] [Offset ${source.offset}] User ${payment.user_id}`,
    );
    // The course's slow step. With it set, each partition is handled one record at a time (see bootstrap),
    // and the consumer heartbeats while the batch runs, so a step longer than the session keeps the member.
    if (this.env.PROCESSING_DELAY_MS > 0) await sleep(this.env.PROCESSING_DELAY_MS);
    await this.orders.placeOrder(payment, source);
  }
}
