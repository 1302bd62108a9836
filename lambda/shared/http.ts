/**
 * API Gateway REST (v1 proxy) event in, result out: the few helpers every
 * HTTP handler shares. The local gateway builds the same events.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LIMITS } from './limits.js';
import { ApiError, PROBLEM_CONTENT_TYPE } from './problem.js';

export type ApiEvent = APIGatewayProxyEvent;
export type ApiResult = APIGatewayProxyResult;

/** Minimal logger surface (Powertools Logger satisfies it); handlers never pass request bodies to it. */
export interface HandlerLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export function requestIdOf(event: ApiEvent): string {
  return event.requestContext?.requestId ?? 'unknown';
}

export function headerOf(headers: Record<string, string | undefined> | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

export function jsonResult(statusCode: number, body: unknown, requestId: string, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId, ...headers },
    body: JSON.stringify(body),
  };
}

export function problemResult(error: ApiError, requestId: string): ApiResult {
  return {
    statusCode: error.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'x-request-id': requestId, ...error.headers },
    body: JSON.stringify(error.toProblem(requestId)),
  };
}

/**
 * Reads the JSON body of a POST. Refuses a non-JSON content type (415), a body
 * over Lambda's 6 MB payload limit (413) and malformed JSON (400).
 */
export function readJsonBody(event: ApiEvent): unknown {
  const contentType = headerOf(event.headers, 'content-type');
  if (contentType !== undefined && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType.trim())) {
    throw new ApiError('unsupported-media-type', 'Send the request body as JSON with "Content-Type: application/json".');
  }
  if (event.body === null || event.body === undefined || event.body === '') {
    throw new ApiError('validation-error', '(body): a JSON request body is required', {
      errors: [{ field: '(body)', reason: 'is required' }],
    });
  }
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text, 'utf8') > LIMITS.maxRequestBodyBytes) {
    throw new ApiError('payload-too-large', `The request body must be at most ${LIMITS.maxRequestBodyBytes} bytes.`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // SyntaxError messages quote the offending input; only the position is safe to repeat.
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    throw new ApiError('invalid-json', `The request body is not valid JSON${position ? ` (error at position ${position})` : ''}.`);
  }
}

/**
 * Runs a handler body and turns whatever it throws into a problem result:
 * an ApiError keeps its status; anything else is logged by name only and answered 500.
 */
export async function answer(event: ApiEvent, logger: HandlerLogger, run: (requestId: string) => Promise<ApiResult>): Promise<ApiResult> {
  const requestId = requestIdOf(event);
  try {
    return await run(requestId);
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.status >= 500) logger.warn('upstream problem', { requestId, status: error.status, kind: error.kind });
      return problemResult(error, requestId);
    }
    logger.error('unexpected error', { requestId, errorName: (error as Error)?.name ?? typeof error });
    return problemResult(new ApiError('internal-error', 'An unexpected error occurred; quote the request id when reporting it.'), requestId);
  }
}
