import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { inputShapeProblem } from './input-limits';
import { RecordFault } from './record-fault';

export interface FieldError {
  /** Dotted path of the offending field, e.g. `cart.0.price`. */
  field: string;
  /** One problem, the first a person would fix, named with the field's path: `cart.0.price must be a number`. */
  messages: string[];
}

/** Raised when a value does not satisfy one of the contracts; carries every failing field, one problem each. */
export class ContractViolation extends RecordFault {
  override readonly reason = 'contract';

  constructor(
    readonly contract: string,
    readonly fields: FieldError[],
  ) {
    super(`${contract} is invalid: ${fields.flatMap((f) => f.messages).join('; ')}`);
    this.name = 'ContractViolation';
  }
}

/**
 * The rules that say what a value is, most basic first: when one fails, the others of its field (its range, its
 * length) say nothing useful, so the message is that one. A field that fails none of these gets its first rule.
 */
const KIND_RULES = ['isArray', 'isObject', 'isInt', 'isNumber', 'isString', 'isIn', 'isUuid', 'isIso8601', 'isEventId', 'isEmail', 'nestedValidation'];

/**
 * One message per field, as a person would say it: `user_id is required`, `cart.0.price must be a positive
 * number`. A field that is not even of its kind (a cart that is not a list) is not searched for its parts' faults.
 */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    if (!error.constraints) return flattenValidationErrors(error.children ?? [], field);
    const problem = oneProblem(error, field, error.constraints);
    const own = [{ field: problem.field ?? field, messages: [problem.message] }];
    return problem.wrongKind ? own : [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

function oneProblem(error: ValidationError, field: string, constraints: Record<string, string>): { field?: string; message: string; wrongKind: boolean } {
  // Optional fields never fail when absent: a missing value here is a required one. (A field with children
  // has a value, though Nest's pipe may have removed it from the error.)
  if ((error.value === undefined || error.value === null) && !error.children?.length) return { message: `${field} is required`, wrongKind: true };
  const rule = KIND_RULES.find((name) => name in constraints);
  if (rule === 'nestedValidation') return { message: `${field} must be an object`, wrongKind: true };
  // A list whose items must be objects (IsObject with `each`): named by its first item that is not one.
  if (rule === 'isObject' && Array.isArray(error.value)) {
    const index = error.value.findIndex((item: unknown) => typeof item !== 'object' || item === null || Array.isArray(item));
    if (index >= 0) return { field: `${field}.${index}`, message: `${field}.${index} must be an object`, wrongKind: true };
  }
  // Messages name the property alone (class-validator's `$property`): name its whole path instead.
  const message = constraints[rule ?? Object.keys(constraints)[0]];
  return {
    message: message.startsWith(`${error.property} `) ? `${field}${message.slice(error.property.length)}` : message,
    wrongKind: rule !== undefined,
  };
}

/**
 * Turns an untrusted plain value into a validated contract instance, or throws ContractViolation.
 * Unknown properties are dropped (a newer producer may add fields), never trusted. The value's shape is
 * checked against INPUT_LIMITS first: class-transformer and class-validator recurse through whatever they get.
 */
export function parseContract<T extends object>(contract: ClassConstructor<T>, plain: unknown): T {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    throw new ContractViolation(contract.name, [
      { field: '(root)', messages: [`${contract.name} must be a JSON object, got ${describe(plain)}`] },
    ]);
  }
  const shape = inputShapeProblem(plain);
  if (shape) throw new ContractViolation(contract.name, [shape]);
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
