import { Body, Controller, Headers, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { PaymentRequestDto } from '@app/contracts';
import { validationFailed } from '@app/platform';
import { PaymentService, type PaymentAccepted } from './payment.service';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,100}$/;

@Controller('payment')
export class PaymentController {
  constructor(private readonly payments: PaymentService) {}

  /**
   * 200 once the broker has the payment (the course's clients count a payment only on 200); 400 naming the bad
   * fields; 422 when the `Idempotency-Key` was used for another payment; 503 when the broker did not confirm it.
   * A retry with the same key and body gets the first payment's id, and publishes nothing once it was acknowledged.
   */
  @Post()
  @HttpCode(HttpStatus.OK)
  pay(@Body() request: PaymentRequestDto, @Headers('idempotency-key') idempotencyKey?: string): Promise<PaymentAccepted> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw validationFailed([
        { field: 'Idempotency-Key', messages: ['Idempotency-Key must be 1 to 100 letters, digits, _ . : or -'] },
      ]);
    }
    return this.payments.accept(request, idempotencyKey);
  }
}
