/**
 * RFC 9457 problem details: the one error shape every component answers with
 * (gateway, handlers, embedded engine). A client error is always a 4xx problem;
 * upstream trouble is a 502/503/504 problem. Messages name fields and reasons,
 * never the values a client sent (images, embeddings, keys and tokens stay out).
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** One invalid field: a JSON-pointer-like dotted path and why it was refused. */
export interface FieldError {
  readonly field: string;
  readonly reason: string;
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly requestId?: string;
  readonly errors?: readonly FieldError[];
}

/** The problem kinds this API answers with; `type` is `urn:face-verification:problem:<kind>`. */
export const PROBLEM_KINDS = {
  'validation-error': { status: 400, title: 'The request is not valid' },
  'invalid-json': { status: 400, title: 'The request body is not valid JSON' },
  'unsupported-media-type': { status: 415, title: 'The request body must be application/json' },
  'image-rejected': { status: 400, title: 'The image cannot be processed' },
  'image-url-rejected': { status: 400, title: 'The image URL cannot be used' },
  'image-fetch-failed': { status: 400, title: 'The image could not be downloaded from its URL' },
  unauthorized: { status: 401, title: 'Missing or invalid authentication' },
  forbidden: { status: 403, title: 'Access denied' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'too-many-requests': { status: 429, title: 'Too many requests' },
  'internal-error': { status: 500, title: 'Internal error' },
  'bad-gateway': { status: 502, title: 'The face verification backend gave no usable answer' },
  'service-unavailable': { status: 503, title: 'The face verification backend is unavailable' },
  'gateway-timeout': { status: 504, title: 'The face verification backend did not answer in time' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

/**
 * True when `value` names one of {@link PROBLEM_KINDS}. An own-property check:
 * `'toString' in PROBLEM_KINDS` is true through the prototype, so `in` would
 * let `constructor` or `__proto__` pass as a kind.
 */
export function isProblemKind(value: unknown): value is ProblemKind {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(PROBLEM_KINDS, value);
}

export const problemType = (kind: ProblemKind): string => `urn:face-verification:problem:${kind}`;

/** An error that becomes a problem response; thrown by shared modules, caught by handlers. */
export class ApiError extends Error {
  readonly kind: ProblemKind;
  readonly status: number;
  readonly errors?: readonly FieldError[];
  /** Extra response headers, e.g. `Retry-After` on a 429/503. */
  readonly headers?: Readonly<Record<string, string>>;

  constructor(
    kind: ProblemKind,
    detail: string,
    options: { errors?: readonly FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.kind = kind;
    this.status = PROBLEM_KINDS[kind].status;
    this.errors = options.errors;
    this.headers = options.headers;
  }

  toProblem(requestId?: string): Problem {
    return {
      type: problemType(this.kind),
      title: PROBLEM_KINDS[this.kind].title,
      status: this.status,
      detail: this.message,
      ...(requestId ? { requestId } : {}),
      ...(this.errors && this.errors.length > 0 ? { errors: this.errors } : {}),
    };
  }
}

/** Builds a problem body for a kind without throwing. */
export function problem(kind: ProblemKind, detail: string, requestId?: string, errors?: readonly FieldError[]): Problem {
  return new ApiError(kind, detail, { errors }).toProblem(requestId);
}

/** Shallow check that a parsed body looks like a problem document (used when relaying a backend's error). */
export function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.status === 'number' && typeof v.title === 'string';
}
