import { ValidateBy, type ValidationOptions } from 'class-validator';

const NUL = /\u0000/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one: half a character. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Text PostgreSQL can hold as it is: no NUL (text refuses it, jsonb refuses `\u0000`) and no lone surrogate
 * (jsonb refuses it, and text would silently get U+FFFD instead). Leaves non-strings to IsString.
 */
export function IsStorableText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStorableText',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || (!NUL.test(value) && !LONE_SURROGATE.test(value)),
        defaultMessage: (args) =>
          NUL.test(String(args?.value))
            ? `${args?.property} must not contain the NUL character (\\u0000)`
            : `${args?.property} must not contain half of a UTF-16 surrogate pair (such as \\ud800)`,
      },
    },
    options,
  );
}

/**
 * A number with at most two decimals, exactly as a numeric(p, 2) column stores it: the value is the double
 * nearest to its amount in cents. Unlike class-validator's maxDecimalPlaces, which reads `toString()`, it
 * also judges exponent forms (1e-7 has seven decimals, not none). Leaves non-numbers to IsNumber.
 */
export function HasCents(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'hasCents',
      validator: {
        validate: (value: unknown) => typeof value !== 'number' || !Number.isFinite(value) || Math.round(value * 100) / 100 === value,
        defaultMessage: (args) => `${args?.property} must have at most 2 decimals`,
      },
    },
    options,
  );
}
