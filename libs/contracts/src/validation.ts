import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { RecordFault } from './record-fault';

export interface FieldError {
  /** Dotted path of the offending field, e.g. `cart.0.price`. */
  field: string;
  messages: string[];
}

/** Raised when a value does not satisfy one of the contracts; carries every failing field. */
export class ContractViolation extends RecordFault {
  constructor(
    readonly contract: string,
    readonly fields: FieldError[],
  ) {
    super(`${contract} is invalid: ${fields.map((f) => `${f.field}: ${f.messages.join(', ')}`).join('; ')}`);
    this.name = 'ContractViolation';
  }
}

export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, messages: Object.values(error.constraints) }] : [];
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/**
 * Turns an untrusted plain value into a validated contract instance, or throws ContractViolation.
 * Unknown properties are dropped (a newer producer may add fields), never trusted.
 */
export function parseContract<T extends object>(contract: ClassConstructor<T>, plain: unknown): T {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    throw new ContractViolation(contract.name, [
      { field: '(root)', messages: [`${contract.name} must be a JSON object, got ${describe(plain)}`] },
    ]);
  }
  const instance = plainToInstance(contract, plain, { exposeDefaultValues: true });
  const errors = validateSync(instance, { whitelist: true, forbidUnknownValues: true });
  if (errors.length > 0) throw new ContractViolation(contract.name, flattenValidationErrors(errors));
  return instance;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value;
}
