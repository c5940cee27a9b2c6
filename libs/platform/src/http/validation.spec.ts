import { BadRequestException } from '@nestjs/common';
import { INPUT_LIMITS, PaymentRequestDto } from '@app/contracts';
import { HttpValidationPipe } from './validation';

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
};

describe('HttpValidationPipe', () => {
  const pipe = new HttpValidationPipe();
  const body = { type: 'body' as const, metatype: PaymentRequestDto };

  it('answers a body 10,000 levels deep with a 400 naming the field (the pipe itself would overflow its stack)', async () => {
    const error = await pipe.transform({ user_id: 1, cart: nested(10_000) }, body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestException);
    expect((error as BadRequestException).getResponse()).toMatchObject({
      errors: [{ field: 'cart', messages: [`cart is nested too deeply (more than ${INPUT_LIMITS.depth} levels of lists and objects)`] }],
    });
  });

  it('refuses a list in the cart where an item belongs (it was accepted as an empty item, then lost)', async () => {
    const error = await pipe.transform({ user_id: 1, cart: [[{ name: 'Nested', price: 10, quantity: 1 }]] }, body).catch((e: unknown) => e);
    expect((error as BadRequestException).getResponse()).toMatchObject({
      errors: [{ field: 'cart.0', messages: ['cart.0 must be an object'] }],
    });
  });

  it('names the body itself when the value at its root breaks the input limits', async () => {
    const error = await pipe.transform({ user_id: 1, cart: [{ name: 'TV', price: 1 }], ['__proto__']: {} }, body).catch((e: unknown) => e);
    expect((error as BadRequestException).getResponse()).toMatchObject({
      errors: [{ field: '(root)', messages: ['the body has a field named __proto__, which is not allowed'] }],
    });
  });

  it('names one problem per field, a missing field as required', async () => {
    const error = await pipe.transform({ cart: Array.from({ length: 101 }, () => ({ name: 'a', price: 0 })) }, body).catch((e: unknown) => e);
    const { errors } = (error as BadRequestException).getResponse() as { errors: Array<{ field: string; messages: string[] }> };
    expect(errors.slice(0, 3)).toEqual([
      { field: 'user_id', messages: ['user_id is required'] },
      { field: 'cart', messages: ['cart must have at most 100 items'] },
      { field: 'cart.0.price', messages: ['cart.0.price must be a positive number'] },
    ]);
  });
});
