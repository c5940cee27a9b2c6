import fc from 'fast-check';
import { EmailSentEvent, OrderCreatedEvent, PaymentSuccessfulEvent, RecordFault, settleEmail, settleOrder, settlePayment, TOPICS, type EventTopic } from '@app/contracts';
import { readRecord, type Settle } from '@app/kafka/kafka-event';
import { HttpValidationPipe } from '@app/platform';
import { cartTotal, PaymentRequestDto } from '@app/contracts';
import { edgeEvent, hostileRecord, namedCases, paymentBodies } from './hostile-records';

/** How each consumer reads a record of its topic (see the services' @KafkaEvent). */
const READERS: Record<EventTopic, (value: Buffer | null) => unknown> = {
  [TOPICS.paymentSuccessful]: (value) => read(PaymentSuccessfulEvent, value, settlePayment),
  [TOPICS.orderCreated]: (value) => read(OrderCreatedEvent, value, settleOrder),
  [TOPICS.emailSent]: (value) => read(EmailSentEvent, value, settleEmail),
};

function read<T extends object, S>(contract: new () => T, value: Buffer | null, settle: Settle<T, S>) {
  return readRecord(contract, value, { id: 'payment-successful:0:1@1764000000000', timestamp: '1764000000000', settle });
}

/** The reader's verdict on a record: the fault it throws, or undefined when it reads it. */
function faultOf(topic: EventTopic, value: Buffer | null): unknown {
  try {
    READERS[topic](value);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('hostile records', () => {
  it.each(Object.values(TOPICS))('of %s are every one refused by reading, as the record\'s fault (RecordFault)', (topic) => {
    fc.assert(
      fc.property(hostileRecord(topic, 42), (record) => {
        const fault = faultOf(topic, record.value);
        if (!(fault instanceof RecordFault)) throw new Error(`${record.kind} was ${fault === undefined ? 'read' : `refused with ${String(fault)}`}: ${record.value?.toString('utf8').slice(0, 300)}`);
      }),
      { seed: 7, numRuns: 400 },
    );
  });

  it('include the cases named in issues, refused for what they are', () => {
    const reasons = namedCases(42).map((c) => String(faultOf(c.topic, c.value)));
    expect(reasons).toEqual([
      'ContractViolation: PaymentSuccessfulEvent is invalid: cart is nested too deeply (more than 8 levels of lists and objects)',
      'ContractViolation: PaymentSuccessfulEvent is invalid: cart.0 must be an object',
      'PoisonMessageError: the value is not valid UTF-8',
      'PoisonMessageError: the value is not valid JSON: Unexpected token \'o\', "not json" is not valid JSON',
    ]);
  });

  it.each(Object.values(TOPICS))('are each followed by a good %s event at the edges of its contract, which reading takes', (topic) => {
    expect(faultOf(topic, Buffer.from(edgeEvent(topic, 2_147_483_647).value))).toBeUndefined();
  });
});

describe('the HTTP door and the consumers', () => {
  const pipe = new HttpValidationPipe();
  const body = { type: 'body' as const, metatype: PaymentRequestDto };

  it('refuse the same payments: POST /payment takes a body exactly when a consumer takes it as an event, and then with a positive amount', async () => {
    await fc.assert(
      fc.asyncProperty(paymentBodies(), async (text) => {
        const plain = JSON.parse(text) as Record<string, unknown>;
        const accepted = await pipe.transform(plain, body).then((dto) => dto as PaymentRequestDto, () => undefined);
        // The body as a consumer would get it written straight to the topic (spliced as text: JSON.stringify recurses).
        const event = Buffer.from(`{"timestamp":1,${text.slice(1)}`);
        const read = faultOf(TOPICS.paymentSuccessful, event) === undefined;
        if ((accepted !== undefined) !== read) throw new Error(`HTTP ${accepted ? 'accepts' : 'refuses'}, the consumer ${read ? 'reads' : 'refuses'}: ${text.slice(0, 300)}`);
        if (accepted && !(cartTotal(accepted.cart) > 0)) throw new Error(`accepted with an amount of ${cartTotal(accepted.cart)}: ${text.slice(0, 300)}`);
      }),
      { seed: 11, numRuns: 500 },
    );
  });
});
