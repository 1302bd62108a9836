/**
 * Typed client for the Face Verification API: the vendor's three operations and this project's
 * two extensions. Dependency-free and runtime-neutral: global `fetch`, `AbortSignal.timeout`,
 * `AbortSignal.any` and `btoa` only (Node 20.9+ and current browsers). No `node:` import here:
 * reading an image from a file lives in `./node.ts`.
 *
 * Request and response types come from `./types.ts`, generated from the OpenAPI document
 * (`npm run client:types`; test/client/types.test.ts fails when they drift).
 */
import type { components, operations, paths } from './types.js';

type Schemas = components['schemas'];
type RequestOf<Op extends keyof operations> = operations[Op]['requestBody'] extends { content: { 'application/json': infer B } } ? B : never;
type ResponseOf<Op extends keyof operations> = operations[Op]['responses'][200]['content']['application/json'];

/** An image: exactly one of `bytes` (base64 JPEG/PNG) or `url` (http/https). */
export type Image = Schemas['Image'];
export type Face = Schemas['Face'];
export type BoundingBox = Schemas['BoundingBox'];
/** RFC 9457 problem details, as every error of the API is answered. */
export type Problem = Schemas['Problem'];
export type FieldError = NonNullable<Problem['errors']>[number];
export type DetectFacesRequest = RequestOf<'detectFaces'>;
export type DetectFacesResponse = ResponseOf<'detectFaces'>;
export type GetFaceEmbeddingsRequest = RequestOf<'getFaceEmbeddings'>;
export type GetFaceEmbeddingsResponse = ResponseOf<'getFaceEmbeddings'>;
export type CompareFaceEmbeddingsRequest = RequestOf<'compareFaceEmbeddings'>;
export type CompareFaceEmbeddingsResponse = ResponseOf<'compareFaceEmbeddings'>;
export type VerifyFacesRequest = RequestOf<'verifyFaces'>;
export type VerifyFacesResponse = ResponseOf<'verifyFaces'>;
export type CompareFaceEmbeddingsBatchRequest = RequestOf<'compareFaceEmbeddingsBatch'>;
export type CompareFaceEmbeddingsBatchResponse = ResponseOf<'compareFaceEmbeddingsBatch'>;

/** The operations and their paths; `satisfies` ties every id and path to the OpenAPI document. */
export const OPERATION_PATHS = {
  detectFaces: '/v1/face-verification/detect-faces',
  getFaceEmbeddings: '/v1/face-verification/get-face-embeddings',
  compareFaceEmbeddings: '/v1/face-verification/compare-face-embeddings',
  verifyFaces: '/v1/face-verification/verify-faces',
  compareFaceEmbeddingsBatch: '/v1/face-verification/compare-face-embeddings-batch',
} as const satisfies { readonly [Op in keyof operations]: keyof paths };

export type OperationId = keyof typeof OPERATION_PATHS;

/** Where `npm start` listens. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
/** Per attempt; API Gateway itself gives up after 29 s (its integration timeout). */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RETRIES = 2;
export const DEFAULT_RETRY_BASE_DELAY_MS = 500;
export const DEFAULT_MAX_RETRY_DELAY_MS = 20_000;

/** What the client needs to know about one retry (for logging or tests). */
export interface RetryInfo {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** 429 or 503. */
  readonly status: number;
  /** How long the client waits before the next attempt. */
  readonly delayMs: number;
  /** The server's `Retry-After`, in ms, when it sent a usable one. */
  readonly retryAfterMs?: number;
  readonly requestId?: string;
}

/** Per-call settings; each overrides the client's. */
export interface CallOptions {
  /** Milliseconds each attempt may take, answer body included. @default the client's (30,000) */
  readonly timeoutMs?: number;
  /** Retries after a 429 or 503. @default the client's (2) */
  readonly maxRetries?: number;
  /** Aborts the call, including a wait between attempts. @default none */
  readonly signal?: AbortSignal;
}

export interface FaceVerificationClientOptions {
  /** The API's base URL (with the stage path behind execute-api, e.g. `https://x.execute-api.eu-west-1.amazonaws.com/prod`). @default 'http://127.0.0.1:8080' */
  readonly baseUrl?: string;
  /** Sent as `Authorization: ApiKey <key>`. Give this or `bearerToken`, not both. @default none */
  readonly apiKey?: string;
  /** Sent as `Authorization: Bearer <token>` (a JWT of the deployment's issuer). @default none */
  readonly bearerToken?: string;
  /** Milliseconds each attempt may take, answer body included. @default 30000 */
  readonly timeoutMs?: number;
  /** Retries after a 429 or 503 (0 turns retries off). @default 2 */
  readonly maxRetries?: number;
  /** First backoff step when the server sends no `Retry-After`; doubles per retry, with jitter. @default 500 */
  readonly retryBaseDelayMs?: number;
  /**
   * Longest wait before a retry. A `Retry-After` above it is not waited for: the 429/503 is
   * thrown at once (its `retryAfterMs` tells when to come back). @default 20000
   */
  readonly maxRetryDelayMs?: number;
  /** Called before each wait for a retry. @default none */
  readonly onRetry?: (info: RetryInfo) => void;
  /** The fetch implementation. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

// ---------------------------------------------------------------------------------------------
// Errors. None of them ever holds the API key or token: it lives only in a private field of the
// client and in the request headers, which no error keeps.
// ---------------------------------------------------------------------------------------------

/** Base class of every error this client throws (besides a `TypeError` for a wrong argument and the caller's own abort). */
export class FaceVerificationClientError extends Error {
  override readonly name: string = 'FaceVerificationClientError';
}

/** The API answered with an error status: carries the problem body (RFC 9457). */
export class FaceVerificationError extends FaceVerificationClientError {
  override readonly name = 'FaceVerificationError';
  readonly status: number;
  /** `urn:face-verification:problem:<kind>`, or `about:blank` when the body was not a problem document. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** Each invalid field and why (400 validation errors). */
  readonly errors: readonly FieldError[];
  /** From the body, else from the `x-request-id` header: quote it when reporting a problem. */
  readonly requestId?: string;
  /** The server's `Retry-After` in ms (429/503), when it sent one. */
  readonly retryAfterMs?: number;

  constructor(fields: { status: number; type: string; title: string; detail: string; errors?: readonly FieldError[]; requestId?: string; retryAfterMs?: number }) {
    const id = fields.requestId ? ` (request id ${fields.requestId})` : '';
    super(`HTTP ${fields.status} ${fields.title}: ${fields.detail}${id}`);
    this.status = fields.status;
    this.type = fields.type;
    this.title = fields.title;
    this.detail = fields.detail;
    this.errors = fields.errors ?? [];
    if (fields.requestId !== undefined) this.requestId = fields.requestId;
    if (fields.retryAfterMs !== undefined) this.retryAfterMs = fields.retryAfterMs;
  }

  /** The problem body as the server sent it (fields normalised). */
  toProblem(): Problem {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(this.requestId ? { requestId: this.requestId } : {}),
      ...(this.errors.length > 0 ? { errors: [...this.errors] } : {}),
    };
  }
}

/** The server could not be reached: connection refused, DNS failure, connection reset, CORS refusal in a browser. */
export class FaceVerificationNetworkError extends FaceVerificationClientError {
  override readonly name = 'FaceVerificationNetworkError';
  /** The system error code when the runtime gives one (`ECONNREFUSED`, `ENOTFOUND`, ...). */
  readonly code?: string;
  constructor(message: string, code: string | undefined, cause: unknown) {
    super(message, { cause });
    if (code !== undefined) this.code = code;
  }
}

/** An attempt took longer than `timeoutMs`. */
export class FaceVerificationTimeoutError extends FaceVerificationClientError {
  override readonly name = 'FaceVerificationTimeoutError';
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number) {
    super(message);
    this.timeoutMs = timeoutMs;
  }
}

/** The server answered with something this API never sends: not JSON, or JSON of another shape. */
export class FaceVerificationResponseError extends FaceVerificationClientError {
  override readonly name = 'FaceVerificationResponseError';
  readonly status: number;
  readonly contentType?: string;
  readonly requestId?: string;
  constructor(message: string, fields: { status: number; contentType?: string; requestId?: string }) {
    super(message);
    this.status = fields.status;
    if (fields.contentType) this.contentType = fields.contentType;
    if (fields.requestId) this.requestId = fields.requestId;
  }
}

// ---------------------------------------------------------------------------------------------
// Image helpers.
// ---------------------------------------------------------------------------------------------

function toBase64(bytes: Uint8Array): string {
  // Node's Buffer when present (fast, no intermediate string); otherwise btoa over chunks (browsers).
  const NodeBuffer = (globalThis as { Buffer?: { from(b: ArrayBufferLike, o: number, l: number): { toString(e: 'base64'): string } } }).Buffer;
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  const chunk = 0x8000; // String.fromCharCode's argument count stays far below engines' limits
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(binary);
}

/**
 * An image from its bytes (a Node `Buffer`, a `Uint8Array` or an `ArrayBuffer` of a JPEG or PNG file).
 * The server checks the format; this only encodes.
 */
export function imageFromBuffer(data: Uint8Array | ArrayBuffer): { bytes: string } {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.byteLength === 0) throw new TypeError('imageFromBuffer: the image is empty (0 bytes)');
  return { bytes: toBase64(bytes) };
}

/** An image the server downloads itself (http or https; the deployment's SSRF rules apply). */
export function imageFromUrl(url: string | URL): { url: string } {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new TypeError('imageFromUrl: not an absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`imageFromUrl: the URL must be http or https, not ${parsed.protocol}`);
  return { url: parsed.href };
}

// ---------------------------------------------------------------------------------------------
// The client.
// ---------------------------------------------------------------------------------------------

/** An HTTP token68-ish credential: visible ASCII, no spaces; also keeps fetch from echoing a bad value in its error. */
const CREDENTIAL = /^[\x21-\x7e]+$/;

/** `Retry-After` as ms: delta-seconds or an HTTP date (RFC 9110 section 10.2.3); undefined when unusable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Every HTTP-date form starts with a day name; without this check Date.parse reads '-1' as a year.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The base URL as safe to print: no user info, no query. */
function printable(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running?)',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  UND_ERR_SOCKET: 'the connection closed before the answer was complete',
};

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: FaceVerificationClientError; retry: boolean; retryAfterMs?: number; requestId?: string; status?: number };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The least a success answer of each operation must hold; anything else is an unusable answer. */
const SHAPE_CHECKS: { readonly [Op in OperationId]: (body: Record<string, unknown>, request: RequestOf<Op>) => boolean } = {
  detectFaces: (b) => (Array.isArray(b.faces) || b.faces === null) && typeof b.unprocessedFaceCount === 'number',
  getFaceEmbeddings: (b) => (Array.isArray(b.faces) || b.faces === null) && typeof b.unprocessedFaceCount === 'number',
  compareFaceEmbeddings: (b) => typeof b.similarity === 'number',
  verifyFaces: (b) => typeof b.similarity === 'number' && isRecord(b.face1) && isRecord(b.face2),
  compareFaceEmbeddingsBatch: (b, request) => Array.isArray(b.similarities) && b.similarities.length === request.embeddings.length,
};

/**
 * The Face Verification API client. All five operations are pure functions of their input (nothing
 * is stored or changed server-side), so repeating one after a 429 or 503 is always safe; no other
 * status is retried.
 *
 * @example
 * const client = new FaceVerificationClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.FACE_VERIFICATION_API_KEY });
 * const { similarity } = await client.verifyFaces({ image1: await imageFromFile('a.jpg'), image2: await imageFromFile('b.jpg') });
 */
export class FaceVerificationClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly retryBaseDelayMs: number;
  readonly maxRetryDelayMs: number;
  readonly #authorization: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #onRetry?: (info: RetryInfo) => void;
  readonly #base: URL;

  constructor(options: FaceVerificationClientOptions = {}) {
    let base: URL;
    try {
      base = new URL(options.baseUrl ?? DEFAULT_BASE_URL);
    } catch {
      throw new TypeError('baseUrl must be an absolute http:// or https:// URL');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`baseUrl must be http or https, not ${base.protocol}`);
    if (options.apiKey !== undefined && options.bearerToken !== undefined) throw new TypeError('give apiKey or bearerToken, not both');
    for (const [name, value] of [['apiKey', options.apiKey], ['bearerToken', options.bearerToken]] as const) {
      // The value is never quoted: a message would otherwise carry (part of) the secret.
      if (value !== undefined && !CREDENTIAL.test(value)) throw new TypeError(`${name} must be a non-empty string of visible ASCII characters without spaces (value not shown)`);
    }
    for (const [name, value, min] of [['timeoutMs', options.timeoutMs, 1], ['maxRetries', options.maxRetries, 0], ['retryBaseDelayMs', options.retryBaseDelayMs, 0], ['maxRetryDelayMs', options.maxRetryDelayMs, 0]] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value >= min)) throw new TypeError(`${name} must be an integer >= ${min}`);
    }
    base.username = '';
    base.password = '';
    base.search = '';
    base.hash = '';
    // A trailing slash makes `new URL('v1/...', base)` keep a stage path such as /prod.
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.#base = base;
    this.baseUrl = printable(base);
    this.#authorization = options.apiKey !== undefined ? `ApiKey ${options.apiKey}` : options.bearerToken !== undefined ? `Bearer ${options.bearerToken}` : undefined;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
    this.#onRetry = options.onRetry;
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  /** The faces on an image with their bounding boxes (largest first; `maxFaceCount` 1..10, default 1). */
  detectFaces(request: DetectFacesRequest, options?: CallOptions): Promise<DetectFacesResponse> {
    return this.call('detectFaces', request, options);
  }

  /** The faces on an image with their embeddings (only comparable with embeddings of the same backend). */
  getFaceEmbeddings(request: GetFaceEmbeddingsRequest, options?: CallOptions): Promise<GetFaceEmbeddingsResponse> {
    return this.call('getFaceEmbeddings', request, options);
  }

  /** The similarity of two embeddings, an integer in [-1, 100]. */
  compareFaceEmbeddings(request: CompareFaceEmbeddingsRequest, options?: CallOptions): Promise<CompareFaceEmbeddingsResponse> {
    return this.call('compareFaceEmbeddings', request, options);
  }

  /** Extension: the similarity of the largest face of each of two images, in one call. */
  verifyFaces(request: VerifyFacesRequest, options?: CallOptions): Promise<VerifyFacesResponse> {
    return this.call('verifyFaces', request, options);
  }

  /** Extension: one embedding against 1 to 1,000 candidates; one similarity per candidate, in order. */
  compareFaceEmbeddingsBatch(request: CompareFaceEmbeddingsBatchRequest, options?: CallOptions): Promise<CompareFaceEmbeddingsBatchResponse> {
    return this.call('compareFaceEmbeddingsBatch', request, options);
  }

  /** Posts `request` to an operation, retrying 429/503 as configured. */
  async call<Op extends OperationId>(operation: Op, request: RequestOf<Op>, options: CallOptions = {}): Promise<ResponseOf<Op>> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const maxRetries = options.maxRetries ?? this.maxRetries;
    const url = new URL(OPERATION_PATHS[operation].slice(1), this.#base);
    const body = JSON.stringify(request);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(operation, url, body, request, timeoutMs, options.signal);
      if (outcome.ok) return outcome.value;
      if (!outcome.retry || attempt > maxRetries) throw outcome.error;
      let delayMs: number;
      if (outcome.retryAfterMs !== undefined) {
        // Not sooner than the server asked; a random extra of up to a fifth (at most 1 s) spreads clients refused together.
        if (outcome.retryAfterMs > this.maxRetryDelayMs) throw outcome.error;
        delayMs = outcome.retryAfterMs + Math.floor(Math.random() * Math.min(1000, outcome.retryAfterMs * 0.2 + 50));
      } else {
        // Exponential backoff with "equal jitter": half the step fixed, half random.
        const step = Math.min(this.maxRetryDelayMs, this.retryBaseDelayMs * 2 ** (attempt - 1));
        delayMs = Math.floor(step / 2 + Math.random() * (step / 2));
      }
      this.#onRetry?.({ attempt, status: outcome.status!, delayMs, ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}), ...(outcome.requestId ? { requestId: outcome.requestId } : {}) });
      await sleep(delayMs, options.signal);
    }
  }

  async #attempt<Op extends OperationId>(operation: Op, url: URL, body: string, request: RequestOf<Op>, timeoutMs: number, signal?: AbortSignal): Promise<Outcome<ResponseOf<Op>>> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, application/problem+json' };
    if (this.#authorization) headers.authorization = this.#authorization;
    const where = `${this.baseUrl} (${operation})`;
    let response: Response;
    let text: string;
    try {
      // The API never redirects; following one would re-send the body (and, same-origin, the credential) elsewhere.
      response = await this.#fetch(url, { method: 'POST', headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout, redirect: 'error' });
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) {
        return { ok: false, retry: false, error: new FaceVerificationTimeoutError(`${where} did not answer within ${timeoutMs} ms`, timeoutMs) };
      }
      const code = errorCode(error);
      const reason = (code && NETWORK_REASONS[code]) ?? (code ? `network error ${code}` : 'network error (connection failed, refused by CORS, or a redirect)');
      return { ok: false, retry: false, error: new FaceVerificationNetworkError(`could not reach ${where}: ${reason}`, code, error) };
    }

    const status = response.status;
    const contentType = response.headers.get('content-type') ?? undefined;
    const headerRequestId = response.headers.get('x-request-id') ?? undefined;
    let parsed: unknown;
    let isJson = true;
    try {
      parsed = JSON.parse(text);
    } catch {
      isJson = false;
    }
    const retryable = status === 429 || status === 503;

    if (status >= 200 && status < 300) {
      const shaped = isJson && isRecord(parsed) && SHAPE_CHECKS[operation](parsed, request as never);
      if (shaped) return { ok: true, value: parsed as ResponseOf<Op> };
      const what = isJson ? 'JSON that is not a valid answer of this operation' : `a body that is not JSON (${contentType ?? 'no content-type'}, ${text.length} characters)`;
      return { ok: false, retry: false, error: new FaceVerificationResponseError(`${where} answered HTTP ${status} with ${what}`, { status, contentType, requestId: headerRequestId }) };
    }

    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    const common = { retry: retryable, status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), ...(headerRequestId ? { requestId: headerRequestId } : {}) };
    if (!isJson || !isRecord(parsed)) {
      return {
        ok: false,
        ...common,
        error: new FaceVerificationResponseError(`${where} answered HTTP ${status} with a body that is not a JSON problem (${contentType ?? 'no content-type'}, ${text.length} characters)`, { status, contentType, requestId: headerRequestId }),
      };
    }
    const str = (value: unknown) => (typeof value === 'string' ? value : undefined);
    // A problem document (RFC 9457); API Gateway's own default answers are `{"message": "..."}`.
    const errors = Array.isArray(parsed.errors)
      ? parsed.errors.filter((e): e is FieldError => isRecord(e) && typeof e.field === 'string' && typeof e.reason === 'string').map((e) => ({ field: e.field, reason: e.reason }))
      : [];
    const requestId = str(parsed.requestId) ?? headerRequestId;
    const error = new FaceVerificationError({
      status,
      type: str(parsed.type) ?? 'about:blank',
      title: str(parsed.title) ?? (str(parsed.message) ? 'Error' : `HTTP ${status}`),
      detail: str(parsed.detail) ?? str(parsed.message) ?? '(no detail given)',
      errors,
      ...(requestId ? { requestId } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
    return { ok: false, ...common, ...(requestId ? { requestId } : {}), error };
  }
}
