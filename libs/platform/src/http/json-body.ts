import { isUtf8 } from 'node:buffer';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  BadRequestException,
  HttpException,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';

type Next = (error?: unknown) => void;

/**
 * Options of Express' JSON parser (body-parser). It would decode bytes that are not UTF-8 as U+FFFD, so a
 * payment would be stored with other text than was sent: those bodies are refused instead. Other charsets it
 * reads (utf-16) are decoded as declared; one it cannot read is its own 415.
 */
export function jsonBodyOptions(limit: string) {
  return {
    limit,
    verify: (_request: IncomingMessage, _response: ServerResponse, body: Buffer, encoding: string) => {
      if (/^utf-?8$/i.test(encoding) && !isUtf8(body)) throw new BadRequestException('The body is not valid UTF-8');
    },
  };
}

/** A request that carries a body the JSON parser does not read (a form, text) gets 415, not "user_id is required". */
export function requireJsonBody(request: IncomingMessage, _response: ServerResponse, next: Next): void {
  const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
  const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (hasBody && type !== 'application/json') {
    next(new UnsupportedMediaTypeException(`The body must be JSON sent with Content-Type: application/json${type ? `, not ${type}` : ''}`));
    return;
  }
  next();
}

interface BodyParserError {
  status?: number;
  type?: string;
  charset?: string;
  /** The text that failed to parse. */
  body?: string;
  message: string;
}

/**
 * Express error middleware for body-parser's refusals, which are the client's: answered as Nest's HTTP errors
 * (the usual body, a sentence a person can act on), not logged as server errors with a stack trace.
 */
export function bodyParserErrors(limit: string) {
  return (error: unknown, _request: IncomingMessage, _response: ServerResponse, next: Next): void => {
    const refusal = error as BodyParserError;
    if (error instanceof HttpException || typeof refusal?.status !== 'number' || refusal.status >= 500) {
      next(error);
      return;
    }
    switch (refusal.type) {
      case 'entity.too.large':
        return next(new PayloadTooLargeException(`The body is larger than ${limit}`));
      case 'charset.unsupported':
        return next(new UnsupportedMediaTypeException(`The charset ${refusal.charset?.toUpperCase()} is not supported: send JSON in UTF-8`));
      case 'entity.parse.failed':
        // In strict mode (the default) valid JSON that is not an object or a list is refused as "not valid JSON".
        return next(new BadRequestException(/^\s*[[{]/.test(refusal.body ?? '') ? `The body is not valid JSON: ${refusal.message}` : 'The body must be a JSON object'));
      default:
        return next(new HttpException({ statusCode: refusal.status, error: STATUS_CODES[refusal.status], message: refusal.message }, refusal.status));
    }
  };
}
