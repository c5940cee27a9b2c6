import { BadRequestException, ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { flattenValidationErrors, type FieldError } from '@app/contracts';

/** The 400 body every service returns for bad input: which fields, and what is wrong with each. */
export interface ValidationErrorBody {
  statusCode: 400;
  error: 'Bad Request';
  message: string;
  errors: FieldError[];
}

export function validationFailed(errors: FieldError[]): BadRequestException {
  const body: ValidationErrorBody = {
    statusCode: 400,
    error: 'Bad Request',
    message: `Validation failed: ${errors.map((e) => e.field).join(', ')}`,
    errors,
  };
  return new BadRequestException(body);
}

/** Levels of lists and objects an HTTP input may have: a payment has three (body, cart, item). */
export const MAX_INPUT_DEPTH = 8;

/**
 * The top-level field (`(root)` for a top-level list) under which `value` nests lists and objects deeper than
 * `limit`, or undefined. Walked without recursion: the pipe's own steps (stripping prototype keys,
 * class-transformer) recurse once per level, and a 20 kB body of 10,000 brackets overflows their stack.
 */
export function fieldNestedTooDeeply(value: unknown, limit = MAX_INPUT_DEPTH): string | undefined {
  const pending: Array<{ value: unknown; depth: number; field: string }> = [{ value, depth: 0, field: '(root)' }];
  while (pending.length > 0) {
    const { value: current, depth, field } = pending.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= limit) return field;
    const topLevel = depth === 0 && !Array.isArray(current);
    for (const [key, child] of Object.entries(current)) pending.push({ value: child, depth: depth + 1, field: topLevel ? key : field });
  }
  return undefined;
}

const HTTP_PARAMETERS = new Set<ArgumentMetadata['type']>(['body', 'query', 'param']);

/**
 * Validates and transforms HTTP bodies, queries and params with the shared class-validator DTOs, one problem
 * named per field. Global pipes also reach Kafka handlers in a hybrid app; those decode their own records, so
 * the pipe leaves every other parameter (the Kafka context among them) untouched.
 */
export class HttpValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidUnknownValues: true,
      // Kept on each error: a missing field ("is required") is told from a wrong one by its value.
      validationError: { target: false, value: true },
      exceptionFactory: (errors: ValidationError[]) => validationFailed(flattenValidationErrors(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (!HTTP_PARAMETERS.has(metadata.type)) return value;
    const deep = fieldNestedTooDeeply(value);
    if (deep !== undefined) {
      const what = deep === '(root)' ? `the ${metadata.type}` : deep;
      throw validationFailed([{ field: deep, messages: [`${what} is nested too deeply (more than ${MAX_INPUT_DEPTH} levels of lists and objects)`] }]);
    }
    return super.transform(value, metadata);
  }
}
