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

const HTTP_PARAMETERS = new Set<ArgumentMetadata['type']>(['body', 'query', 'param']);

/**
 * Validates and transforms HTTP bodies, queries and params with the shared class-validator DTOs. Global
 * pipes also reach Kafka handlers in a hybrid app; those decode their own records, so the pipe leaves
 * every other parameter (the Kafka context among them) untouched.
 */
export class HttpValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidUnknownValues: true,
      exceptionFactory: (errors: ValidationError[]) => validationFailed(flattenValidationErrors(errors)),
    });
  }

  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    return HTTP_PARAMETERS.has(metadata.type) ? super.transform(value, metadata) : Promise.resolve(value);
  }
}
