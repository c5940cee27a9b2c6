import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { loadEnvironment } from '../config/environment';
import { ReadTokenGuard } from './read-token.guard';

const TOKEN = 'read-token-0123456789';

function attempt(readToken: string | undefined, authorization?: string, request: { accept?: string; token?: string } = {}) {
  const headers: Record<string, string> = {};
  const requestHeaders: Record<string, string> = {};
  if (authorization !== undefined) requestHeaders.authorization = authorization;
  if (request.accept !== undefined) requestHeaders.accept = request.accept;
  const context = {
    switchToHttp: () => ({
      getRequest: () => ({ headers: requestHeaders, query: request.token === undefined ? {} : { token: request.token } }),
      getResponse: () => ({ setHeader: (name: string, value: string) => (headers[name] = value) }),
    }),
  } as unknown as ExecutionContext;
  const guard = new ReadTokenGuard(loadEnvironment({ READ_TOKEN: readToken }, { PORT: 1 }));
  try {
    return { allowed: guard.canActivate(context), headers };
  } catch (error) {
    expect(error).toBeInstanceOf(UnauthorizedException);
    return { allowed: false, status: (error as UnauthorizedException).getStatus(), headers };
  }
}

describe('ReadTokenGuard', () => {
  it('lets every request through when READ_TOKEN is unset', () => {
    expect(attempt(undefined).allowed).toBe(true);
  });

  it('answers 401 with the Bearer challenge when the header is missing or not a bearer token', () => {
    for (const header of [undefined, '', `Basic ${TOKEN}`, 'Bearer']) {
      expect(attempt(TOKEN, header)).toEqual({ allowed: false, status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="black-friday"' } });
    }
  });

  it('answers 401 saying the token is invalid when it is wrong', () => {
    for (const header of ['Bearer wrong', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`]) {
      expect(attempt(TOKEN, header)).toEqual({
        allowed: false,
        status: 401,
        headers: { 'WWW-Authenticate': 'Bearer realm="black-friday", error="invalid_token"' },
      });
    }
  });

  it('lets the right token through, whatever the case of the scheme', () => {
    expect(attempt(TOKEN, `Bearer ${TOKEN}`)).toEqual({ allowed: true, headers: {} });
    expect(attempt(TOKEN, `bearer ${TOKEN}`).allowed).toBe(true);
  });

  it('takes the token from ?token= for server-sent events only, as a browser cannot send the header there', () => {
    const events = 'text/event-stream';
    expect(attempt(TOKEN, undefined, { accept: events, token: TOKEN })).toEqual({ allowed: true, headers: {} });
    expect(attempt(TOKEN, undefined, { accept: events, token: 'wrong' })).toMatchObject({ allowed: false, status: 401 });
    // Not for an ordinary request: the token stays out of its URL.
    expect(attempt(TOKEN, undefined, { accept: 'application/json', token: TOKEN })).toMatchObject({ allowed: false, status: 401 });
    expect(attempt(TOKEN, undefined, { token: TOKEN })).toMatchObject({ allowed: false, status: 401 });
  });
});
