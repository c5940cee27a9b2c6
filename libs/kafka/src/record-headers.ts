import type { IHeaders } from 'kafkajs';

type HeaderValue = Buffer | string;

const isBytes = (value: unknown): value is HeaderValue => Buffer.isBuffer(value) || typeof value === 'string';

/**
 * A record's headers as they were written. kafkajs (2.2.4, no longer maintained) gathers a record's headers into a
 * plain object and takes a name it already holds as a repeat: `toString`, `valueOf`, `constructor` or `__proto__`
 * it finds on every object, so a header of that name arrives as a list with Object.prototype's function (or
 * Object.prototype itself) before the bytes. Whatever is not bytes is dropped, and a list left with one value
 * is that value again; the other headers are untouched.
 */
export function headersAsWritten(headers: IHeaders | undefined): IHeaders {
  // Every record passes here: most carry a header or two, none of them repeated, and need only a copy.
  if (!Object.values(headers ?? {}).some(Array.isArray)) return { ...headers };
  const repaired: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!Array.isArray(value)) {
      defineHeader(repaired, name, value);
      continue;
    }
    const bytes = value.filter(isBytes);
    defineHeader(repaired, name, bytes.length === 1 && !isBytes(value[0]) ? bytes[0] : bytes);
  }
  return repaired;
}

/** An own property, even for `__proto__`, which an assignment would take for the object's prototype. */
function defineHeader(headers: IHeaders, name: string, value: IHeaders[string]): void {
  Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
}
