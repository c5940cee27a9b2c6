import { Body, Controller, Headers, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiHeader, ApiOkResponse, ApiServiceUnavailableResponse, ApiUnprocessableEntityResponse, ApiUnsupportedMediaTypeResponse } from '@nestjs/swagger';
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
  // Named as the handler reads it, so that it takes the place of the header @Headers documents (as required).
  @ApiHeader({
    name: 'idempotency-key',
    required: false,
    description: 'Makes a retry safe: the same key and body get the first payment back, and publish it at most once more. 1 to 100 letters, digits, _ . : or -.',
  })
  @ApiOkResponse({ description: 'Accepted: the broker has the payment. The answer has `status`, `message`, `user_id`, `cart`, `payment_id` and `amount`.' })
  @ApiBadRequestResponse({ description: 'The body breaks the contract: `errors` names each bad field and says why.' })
  @ApiUnsupportedMediaTypeResponse({ description: 'The body is not JSON (`Content-Type: application/json`).' })
  @ApiUnprocessableEntityResponse({ description: 'The Idempotency-Key was already used for another payment.' })
  @ApiServiceUnavailableResponse({ description: 'The broker did not confirm the payment: retry later with the same Idempotency-Key.' })
  pay(@Body() request: PaymentRequestDto, @Headers('idempotency-key') idempotencyKey?: string): Promise<PaymentAccepted> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw validationFailed([
        { field: 'Idempotency-Key', messages: ['Idempotency-Key must be 1 to 100 letters, digits, _ . : or -'] },
      ]);
    }
    return this.payments.accept(request, idempotencyKey);
  }
}
