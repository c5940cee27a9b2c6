import { BadRequestException, ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { flattenValidationErrors, inputShapeProblem, type FieldError } from '@app/contracts';

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

const HTTP_PARAMETERS = new Set<ArgumentMetadata['type']>(['body', 'query', 'param']);

/**
 * Validates and transforms HTTP bodies, queries and params with the shared class-validator DTOs, one problem
 * named per field, after the shape every input must have (INPUT_LIMITS, the consumers' too). Global pipes also
 * reach Kafka handlers in a hybrid app; those read their own records, so the pipe leaves every other parameter
 * (the Kafka context among them) untouched.
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
    const shape = inputShapeProblem(value);
    if (shape) throw validationFailed([{ field: shape.field, messages: shape.messages.map((m) => m.replace(/^the value\b/, `the ${metadata.type}`)) }]);
    return super.transform(value, metadata);
  }
}
