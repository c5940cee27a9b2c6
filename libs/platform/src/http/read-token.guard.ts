import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Environment } from '../config/environment';

const REALM = 'Bearer realm="black-friday"';

/**
 * Guards the read endpoints, which show customers' data: with READ_TOKEN set, a request needs
 * `Authorization: Bearer <token>` (or, for server-sent events, `?token=`) and gets 401 otherwise; unset,
 * they are open, for local use.
 */
@Injectable()
export class ReadTokenGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(env: Environment) {
    this.expected = env.READ_TOKEN ? digest(env.READ_TOKEN) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<{ headers: Record<string, unknown>; query?: Record<string, unknown> }>();
    const authorization = request.headers.authorization;
    const given = typeof authorization === 'string' ? /^Bearer +(\S+) *$/i.exec(authorization)?.[1] : eventStreamToken(request);
    // Digests of equal length, compared in constant time: the answer's timing tells nothing of the token.
    if (given !== undefined && timingSafeEqual(digest(given), this.expected)) return true;
    // RFC 6750: no credentials get the bare challenge, wrong ones say the token is invalid.
    http.getResponse<{ setHeader(name: string, value: string): void }>()
      .setHeader('WWW-Authenticate', given === undefined ? REALM : `${REALM}, error="invalid_token"`);
    throw new UnauthorizedException(given === undefined ? 'a bearer token is required (Authorization: Bearer <READ_TOKEN>)' : 'the bearer token is not valid');
  }
}

/**
 * A browser's EventSource cannot send an Authorization header: a request for server-sent events
 * (`Accept: text/event-stream`) may carry the token as `?token=` instead. Other requests may not, so that
 * tokens stay out of the URLs of ordinary calls.
 */
function eventStreamToken(request: { headers: Record<string, unknown>; query?: Record<string, unknown> }): string | undefined {
  const accept = request.headers.accept;
  const token = request.query?.token;
  return typeof accept === 'string' && accept.includes('text/event-stream') && typeof token === 'string' && token !== '' ? token : undefined;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
