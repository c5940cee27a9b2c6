import { Body, Controller, Headers, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { PaymentRequestDto } from '@app/contracts';
import { validationFailed } from '@app/platform';
import { PaymentService, type PaymentAccepted } from './payment.service';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,100}$/;

@Controller('payment')
export class PaymentController {
  constructor(private readonly payments: PaymentService) {}

  /**
   * 201 once the broker has the payment; 400 naming the bad fields; 503 when the broker did not confirm it.
   * An `Idempotency-Key` header becomes the payment id, so a client that retries after a 503 or a lost
   * answer gets one order however many times the payment reaches the broker.
   */
  @Post()
  @HttpCode(HttpStatus.CREATED)
  pay(@Body() request: PaymentRequestDto, @Headers('idempotency-key') idempotencyKey?: string): Promise<PaymentAccepted> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw validationFailed([
        { field: 'Idempotency-Key', messages: ['Idempotency-Key must be 1 to 100 letters, digits, _ . : or -'] },
      ]);
    }
    return this.payments.accept(request, idempotencyKey);
  }
}
