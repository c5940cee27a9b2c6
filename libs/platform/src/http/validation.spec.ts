import { BadRequestException } from '@nestjs/common';
import { PaymentRequestDto } from '@app/contracts';
import { fieldNestedTooDeeply, HttpValidationPipe, MAX_INPUT_DEPTH } from './validation';

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
};

describe('fieldNestedTooDeeply', () => {
  it('names the top-level field under which lists and objects go too deep, without recursing', () => {
    expect(fieldNestedTooDeeply({ user_id: 1, cart: nested(10_000) })).toBe('cart');
    expect(fieldNestedTooDeeply([nested(100_000)])).toBe('(root)');
    expect(fieldNestedTooDeeply(nested(100_000))).toBe('a');
    expect(fieldNestedTooDeeply({ user_id: 1, cart: [{ name: 'TV', price: 1 }] })).toBeUndefined();
    expect(fieldNestedTooDeeply({ x: nested(MAX_INPUT_DEPTH - 1) })).toBeUndefined();
    expect(fieldNestedTooDeeply({ x: nested(MAX_INPUT_DEPTH) })).toBe('x');
  });
});

describe('HttpValidationPipe', () => {
  const pipe = new HttpValidationPipe();
  const body = { type: 'body' as const, metatype: PaymentRequestDto };

  it('answers a body 10,000 levels deep with a 400 naming the field (the pipe itself would overflow its stack)', async () => {
    const error = await pipe.transform({ user_id: 1, cart: nested(10_000) }, body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestException);
    expect((error as BadRequestException).getResponse()).toMatchObject({
      errors: [{ field: 'cart', messages: [`cart is nested too deeply (more than ${MAX_INPUT_DEPTH} levels of lists and objects)`] }],
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
