/**
 * CORS for browser apps (Fetch standard, "CORS protocol"): the origins allowed to
 * read answers, the preflight answer, and the headers added to every handler
 * answer. One source for the Lambda functions, the local gateway and the CDK app.
 * Credentials mode is never enabled: the API authenticates with an explicit
 * `Authorization` header, not cookies, so `Access-Control-Allow-Credentials` stays off.
 */
import { headerOf, type ApiEvent, type ApiResult } from './http.js';

/** Request headers a browser may send (the preflight's Access-Control-Allow-Headers). */
export const CORS_ALLOW_HEADERS = ['Authorization', 'Content-Type'] as const;
/** Methods the API answers (the preflight's Access-Control-Allow-Methods). */
export const CORS_ALLOW_METHODS = ['GET', 'POST', 'OPTIONS'] as const;
/** Response headers a browser script may read besides the CORS-safelisted ones. */
export const CORS_EXPOSE_HEADERS = ['x-request-id', 'retry-after'] as const;
/** How long a browser may cache a preflight answer (browsers cap it: Chromium at 7200 s). */
export const CORS_MAX_AGE_SECONDS = 600;

// An origin is scheme://host[:port], nothing after it (RFC 6454 serialisation).
const ORIGIN = /^https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)(:\d{1,5})?$/;

/**
 * Why `value` is not an allowed-origin entry, or undefined when it is one:
 * `*` alone, or a lower-case `http(s)://host[:port]` with no path or trailing slash.
 */
export function originProblem(value: string): string | undefined {
  if (value === '*') return undefined;
  if (!ORIGIN.test(value)) return 'must be "*" or an origin such as https://app.example.com (scheme and host, lower case, optional port, no path)';
  return undefined;
}

/**
 * The value of Access-Control-Allow-Origin for a request from `origin`, or
 * undefined when that origin may not read the answer.
 */
export function allowedOrigin(allowOrigins: readonly string[], origin: string | undefined): string | undefined {
  if (allowOrigins.includes('*')) return '*';
  if (!origin) return undefined;
  return allowOrigins.includes(origin) ? origin : undefined;
}

/** The CORS headers of an actual (non-preflight) answer to a request from `origin`; `{}` when none apply. */
export function corsHeaders(allowOrigins: readonly string[], origin: string | undefined): Record<string, string> {
  const allow = allowedOrigin(allowOrigins, origin);
  if (allow === undefined) return allowOrigins.length > 0 && !allowOrigins.includes('*') ? { vary: 'Origin' } : {};
  return {
    'access-control-allow-origin': allow,
    'access-control-expose-headers': CORS_EXPOSE_HEADERS.join(', '),
    // The answer depends on Origin unless it is "*": caches must keep one copy per origin.
    ...(allow === '*' ? {} : { vary: 'Origin' }),
  };
}

/** The headers of a preflight answer (204) for `origin`; without Allow-Origin when the origin is not allowed. */
export function preflightHeaders(allowOrigins: readonly string[], origin: string | undefined): Record<string, string> {
  const allow = allowedOrigin(allowOrigins, origin);
  if (allow === undefined) return corsHeaders(allowOrigins, origin);
  return {
    ...corsHeaders(allowOrigins, origin),
    'access-control-allow-methods': CORS_ALLOW_METHODS.join(','),
    'access-control-allow-headers': CORS_ALLOW_HEADERS.join(','),
    'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
  };
}

/**
 * The one Access-Control-Allow-Origin value of answers that cannot look at the
 * request (API Gateway gateway responses: a static header value). One origin: that
 * origin. Several, or `*`: `*`, so that error bodies (401, 429, ...) stay readable by
 * every allowed app; they are static problem texts with a request id, no data of the caller.
 * @returns undefined when no origin is allowed
 */
export function staticAllowOrigin(allowOrigins: readonly string[]): string | undefined {
  if (allowOrigins.length === 0) return undefined;
  return allowOrigins.length === 1 ? allowOrigins[0] : '*';
}

/**
 * Wraps a handler so that its answers carry the CORS headers for the request's Origin. The Lambda
 * context is passed through unchanged (the proxy derives its request deadline from it).
 */
export function withCors<Context>(
  handler: (event: ApiEvent, context?: Context) => Promise<ApiResult>,
  allowOrigins: readonly string[],
): (event: ApiEvent, context?: Context) => Promise<ApiResult> {
  if (allowOrigins.length === 0) return handler;
  return async (event, context) => {
    const result = await handler(event, context);
    const headers = corsHeaders(allowOrigins, headerOf(event.headers, 'origin'));
    return { ...result, headers: { ...result.headers, ...headers } };
  };
}
