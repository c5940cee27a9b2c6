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
    // The course's slow step (a wait, as a call to another system would be); the consume engine runs other
    // keys meanwhile, and the member keeps its group however long it lasts.
    const delay = this.env.processingDelayFor(payment.user_id);
    if (delay > 0) await sleep(delay);
    await this.orders.placeOrder(payment, source);
  }
}
