import { isUUID, ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * An event's id: a UUID, as the project writes, or a positive integer, as the course's Python services write
 * (a counter, unique only within one run of the service: consumers derive their own id for those).
 */
export function IsEventId(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEventId',
      validator: {
        validate: (value: unknown) => (typeof value === 'string' && isUUID(value)) || (Number.isSafeInteger(value) && (value as number) >= 1),
        defaultMessage: (args) => `${args?.property ?? "the id"} must be a UUID or a positive integer`,
      },
    },
    options,
  );
}
