import { INPUT_LIMITS, inputShapeProblem } from './input-limits';

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
};

const fieldOf = (value: unknown) => inputShapeProblem(value)?.field;

describe('inputShapeProblem', () => {
  it('names the top-level field under which lists and objects go too deep, without recursing', () => {
    expect(fieldOf({ user_id: 1, cart: nested(10_000) })).toBe('cart');
    expect(fieldOf([nested(100_000)])).toBe('(root)');
    expect(fieldOf(nested(100_000))).toBe('a');
    expect(fieldOf({ user_id: 1, cart: [{ name: 'TV', price: 1 }] })).toBeUndefined();
    expect(fieldOf({ x: nested(INPUT_LIMITS.depth - 1) })).toBeUndefined();
    expect(inputShapeProblem({ x: nested(INPUT_LIMITS.depth) })).toEqual({
      field: 'x',
      messages: [`x is nested too deeply (more than ${INPUT_LIMITS.depth} levels of lists and objects)`],
    });
  });

  it('refuses a list or an object wider than the limits, wherever it is', () => {
    const wide = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i]));
    expect(fieldOf({ extra: new Array(INPUT_LIMITS.items).fill(0) })).toBeUndefined();
    expect(inputShapeProblem({ extra: new Array(INPUT_LIMITS.items + 1).fill(0) })?.messages).toEqual([`extra has a list of more than ${INPUT_LIMITS.items} items`]);
    expect(fieldOf({ cart: [wide(INPUT_LIMITS.fields)] })).toBeUndefined();
    expect(inputShapeProblem({ cart: [wide(INPUT_LIMITS.fields + 1)] })?.messages).toEqual([`cart has an object of more than ${INPUT_LIMITS.fields} fields`]);
    expect(inputShapeProblem(wide(INPUT_LIMITS.fields + 1))?.messages).toEqual([`the value has an object of more than ${INPUT_LIMITS.fields} fields`]);
  });

  it('refuses the prototype keys at any depth, as JSON.parse makes them (own properties)', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      expect(inputShapeProblem(JSON.parse(`{"user_id": 1, "${key}": {}}`))).toEqual({ field: '(root)', messages: [`the value has a field named ${key}, which is not allowed`] });
      expect(fieldOf(JSON.parse(`{"cart": [{"name": "TV", "${key}": {"price": 1}}]}`))).toBe('cart');
    }
  });

  it('quotes at most 64 characters of a field name', () => {
    const name = 'n'.repeat(10_000);
    expect(fieldOf({ [name]: nested(INPUT_LIMITS.depth) })).toBe(`${'n'.repeat(64)}…`);
  });
});
