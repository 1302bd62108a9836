/**
 * The laptop gateway behind `npm start`: the same handler code as in AWS, behind
 * a small adapter that imitates what the deployment relies on from API Gateway:
 * 10 MB payload limit, the REQUEST authorizer (401 when the header is missing or
 * refused), API-key validation against usage plans, a per-key throttle (429 with
 * Retry-After), the 29 s integration timeout, and a request id on every answer.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { bearerClientUsageKey, createAuthorizer, DEFAULT_BEARER_PLAN, keyId, Unauthorized, UNAUTHORIZED } from '../lambda/shared/authorizer.js';
import { createBackendClient, type BackendClient } from '../lambda/shared/backend-client.js';
import { createCompareHandler, type CompareDeps } from '../lambda/shared/compare.js';
import { createCompareBatchHandler } from '../lambda/shared/compare-batch.js';
import { CORS_EXPOSE_HEADERS, preflightHeaders, staticAllowOrigin, withCors } from '../lambda/shared/cors.js';
import { PATHS } from '../lambda/shared/contract.js';
import { createDocsHandler, defaultSwaggerUiDir } from '../lambda/shared/docs.js';
import { createFaceProxyHandler } from '../lambda/shared/face-proxy.js';
import type { ApiEvent, ApiResult, HandlerLogger } from '../lambda/shared/http.js';
import { createImageFetcher, imageFetchConfigFromEnv, type HostResolver } from '../lambda/shared/image-fetch/index.js';
import { LIMITS } from '../lambda/shared/limits.js';
import { ApiError, PROBLEM_CONTENT_TYPE } from '../lambda/shared/problem.js';
import { loadScoreTable } from '../lambda/shared/score-table.js';
import { createVerifyFacesHandler } from '../lambda/shared/verify-faces.js';
import type { GatewayEnv } from './config.js';
import { ENGINE_SCORE_TABLE_PATH } from './engine/score.js';
import { startCompareWatch, type CompareWatch } from './compare-check.js';
import { authorizerEvent, proxyEvent } from './events.js';
import { TokenBuckets } from './rate-limit.js';


export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  /** The keys accepted (generated when API_KEYS is unset). */
  readonly apiKeys: readonly string[];
  readonly backendUrl: string;
  readonly embeddedEngine: boolean;
  /** The live check of table mode against BACKEND_URL (COMPARE_MODE=table with a BACKEND_URL only). */
  readonly compareWatch?: CompareWatch;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** Where the one-line-per-request JSON log goes. @default stdout */
  readonly log?: (line: string) => void;
  /**
   * Name resolution for `image.url` downloads, for tests that script DNS answers
   * (rebinding, mixed answers) without querying a real resolver.
   * @default the system resolver (`dns.lookup`)
   */
  readonly imageFetchLookup?: HostResolver;
}

type Handler = (event: ApiEvent) => Promise<ApiResult>;
interface Route {
  readonly method: 'GET' | 'POST';
  readonly auth: boolean;
  readonly handler: Handler;
}

/**
 * The request target as a URL, or undefined when the WHATWG parser refuses it:
 * Node's HTTP parser lets through targets such as `//` or `http://[` that `new URL` throws on.
 */
function requestUrl(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** Starts the gateway (and the embedded engine unless BACKEND_URL is set). */
export async function startGateway(env: GatewayEnv, options: GatewayOptions = {}): Promise<RunningGateway> {
  const writeLog = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = (level: string, msg: string, fields: Record<string, unknown> = {}) =>
    writeLog(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  // Handlers' own info lines would break "one line per request"; their warnings and errors are kept.
  const handlerLogger: HandlerLogger = {
    info: () => undefined,
    warn: (msg, ...extra) => log('warn', msg, Object.assign({}, ...extra)),
    error: (msg, ...extra) => log('error', msg, Object.assign({}, ...extra)),
  };

  let engine: { url: string; close(): Promise<void> } | undefined;
  if (!env.BACKEND_URL) {
    const { startEngineServer } = await import('./engine/server.js');
    engine = await startEngineServer({ host: '127.0.0.1', port: 0, engineOptions: { workers: env.ENGINE_WORKERS } });
  }
  const backendUrl = env.BACKEND_URL ?? engine!.url;
  const backend: BackendClient = createBackendClient({ baseUrl: backendUrl, timeoutMs: env.BACKEND_TIMEOUT_MS });

  const apiKeys = env.API_KEYS.length > 0 ? [...env.API_KEYS] : [`local-${randomBytes(16).toString('hex')}`];
  const jwtUsageKey = env.JWT_USAGE_KEY ?? (env.JWT_ISSUER ? `jwt-${randomBytes(16).toString('hex')}` : undefined);
  // API Gateway checks usageIdentifierKey against the keys of its usage plans; so do we.
  const validKeys = new Set([...apiKeys, ...(jwtUsageKey ? [jwtUsageKey] : [])]);
  // A Bearer client's local key is the usage key plus a hash of its claim value: recognised by form, not stored.
  const bearerClientKey = jwtUsageKey ? new RegExp(`^${bearerClientUsageKey(jwtUsageKey, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[0-9a-f]{24}$`) : undefined;
  const isValidKey = (key: string) => validKeys.has(key) || (bearerClientKey?.test(key) ?? false);
  const buckets = env.RATE_LIMIT_RPS ? new TokenBuckets(env.RATE_LIMIT_RPS, env.RATE_LIMIT_BURST ?? Math.max(1, Math.ceil(env.RATE_LIMIT_RPS))) : undefined;

  const authorize = createAuthorizer({
    jwt: env.JWT_ISSUER
      ? { issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE, jwksUri: env.JWT_JWKS_URI, clientClaim: env.JWT_CLIENT_CLAIM, maxLifetimeSeconds: env.JWT_MAX_TOKEN_LIFETIME_SECONDS }
      : undefined,
    // Locally every client claim value is a client of its own: its own usage key, so its own
    // RATE_LIMIT_RPS bucket (one client's 429 leaves the others alone). Only verified tokens get here.
    bearerUsage: async (client) => {
      if (!jwtUsageKey) return undefined;
      if (client === undefined) return { key: jwtUsageKey, plan: DEFAULT_BEARER_PLAN };
      return { key: bearerClientUsageKey(jwtUsageKey, createHash('sha256').update(client).digest('hex').slice(0, 24)), plan: 'local-client' };
    },
    logger: handlerLogger,
  });
  const compareMode = env.COMPARE_MODE ?? (env.BACKEND_URL ? 'forward' : 'table');
  let compareWatch: CompareWatch | undefined;
  let checkBackend: BackendClient | undefined;
  // One scoring configuration for compare-face-embeddings, its batch extension and verify-faces (the same score for the same pair).
  let compareDeps: CompareDeps;
  if (compareMode === 'table') {
    const table = loadScoreTable(env.SCORE_TABLE ?? ENGINE_SCORE_TABLE_PATH);
    if (env.BACKEND_URL) {
      // A table answering for another backend is checked against it, as in AWS (docs/score-table.md):
      // at start (awaited, so the first answer is already checked) and every COMPARE_CHECK_INTERVAL_S.
      checkBackend = createBackendClient({ baseUrl: env.BACKEND_URL, timeoutMs: 5_000 });
      compareWatch = startCompareWatch({ table, backend: checkBackend, intervalS: env.COMPARE_CHECK_INTERVAL_S ?? 300, log });
      await compareWatch.runNow();
      const watch = compareWatch;
      compareDeps = { mode: 'table', table, logger: handlerLogger, fallback: { backend, forwarding: () => watch.forwarding() } };
    } else {
      compareDeps = { mode: 'table', table, logger: handlerLogger };
    }
  } else {
    compareDeps = { mode: 'forward', backend, logger: handlerLogger };
  }
  const compare: Handler = createCompareHandler(compareDeps);
  const compareBatch: Handler = createCompareBatchHandler(compareDeps, { concurrency: env.COMPARE_BATCH_CONCURRENCY, integrationTimeoutMs: env.INTEGRATION_TIMEOUT_MS });
  const imageFetcher = createImageFetcher({ ...imageFetchConfigFromEnv(env as unknown as NodeJS.ProcessEnv), lookup: options.imageFetchLookup });
  const proxy = createFaceProxyHandler({
    backend,
    imageFetcher,
    logger: handlerLogger,
    // The same request deadline as in AWS, from the integration timeout this gateway imitates.
    integrationTimeoutMs: env.INTEGRATION_TIMEOUT_MS,
  });
  // verify-faces (extension): the same backend, image fetcher and deadline as the proxy, the same scoring as compare.
  const verifyFaces = createVerifyFacesHandler({
    backend,
    imageFetcher,
    scoring: compareDeps,
    logger: handlerLogger,
    integrationTimeoutMs: env.INTEGRATION_TIMEOUT_MS,
  });
  // As the CDK construct sets it: Swagger UI offers Bearer only with a JWT issuer.
  const docs = withCors(
    createDocsHandler({
      swaggerUiDir: defaultSwaggerUiDir(),
      logger: handlerLogger,
      authSchemes: env.JWT_ISSUER ? ['ApiKey', 'Bearer'] : ['ApiKey'],
    }),
    env.CORS_ALLOW_ORIGINS,
  );
  // CORS as in AWS: handler answers echo an allowed Origin (withCors, as the Lambda entries do); the
  // gateway's own errors carry one static value, as API Gateway's gateway responses do.
  const errorAllowOrigin = staticAllowOrigin(env.CORS_ALLOW_ORIGINS);

  const routes = new Map<string, Route>([
    [PATHS.detectFaces, { method: 'POST', auth: true, handler: withCors(proxy, env.CORS_ALLOW_ORIGINS) }],
    [PATHS.getFaceEmbeddings, { method: 'POST', auth: true, handler: withCors(proxy, env.CORS_ALLOW_ORIGINS) }],
    [PATHS.compareFaceEmbeddings, { method: 'POST', auth: true, handler: withCors(compare, env.CORS_ALLOW_ORIGINS) }],
    // Extension (issue 11): behind the same authorizer, usage keys, throttle and body limits as compare.
    [PATHS.compareFaceEmbeddingsBatch, { method: 'POST', auth: true, handler: withCors(compareBatch, env.CORS_ALLOW_ORIGINS) }],
    [PATHS.verifyFaces, { method: 'POST', auth: true, handler: withCors(verifyFaces, env.CORS_ALLOW_ORIGINS) }],
  ]);

  function send(res: ServerResponse, result: ApiResult, requestId: string): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
    headers['x-request-id'] = requestId;
    const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
    headers['content-length'] = String(body.length);
    // A request body we did not read is not drained: the connection closes after the answer.
    if (!res.req.complete) headers.connection = 'close';
    res.writeHead(result.statusCode, headers);
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  function problemOf(error: ApiError, requestId: string): ApiResult {
    return {
      statusCode: error.status,
      headers: {
        'content-type': PROBLEM_CONTENT_TYPE,
        ...error.headers,
        ...(errorAllowOrigin ? { 'access-control-allow-origin': errorAllowOrigin, 'access-control-expose-headers': CORS_EXPOSE_HEADERS.join(', ') } : {}),
      },
      body: JSON.stringify(error.toProblem(requestId)),
    };
  }

  /** Reads the body up to API Gateway's 10 MB; undefined when it is larger. */
  function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > LIMITS.apiGatewayMaxBodyBytes) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        if (size > LIMITS.apiGatewayMaxBodyBytes) {
          done = true;
          resolve(undefined);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (!done) resolve(Buffer.concat(chunks));
      });
      // The client hung up mid-body: its fault, so a 400 in the log, not an unexpected 500.
      req.on('error', () =>
        reject(new ApiError('validation-error', 'The request body ended before its declared length.', { errors: [{ field: '(body)', reason: 'ended before its declared length' }] })),
      );
    });
  }

  async function runAuthorizer(req: IncomingMessage, path: string, requestId: string): Promise<APIGatewayAuthorizerResult> {
    // A REQUEST authorizer whose identity source is missing is not invoked: API Gateway answers 401.
    if (!req.headers.authorization) throw new ApiError('unauthorized', 'Send "Authorization: ApiKey <key>" or "Authorization: Bearer <jwt>".');
    let result: APIGatewayAuthorizerResult;
    try {
      result = await authorize(authorizerEvent(req.method!, path, req.headers, requestId));
    } catch (error) {
      if ((error as Error).message === UNAUTHORIZED) {
        // The fixed refusal reason goes to the request's log line (the authorizer's own info line is dropped here).
        const refusal = error instanceof Unauthorized ? error.reason : undefined;
        throw Object.assign(new ApiError('unauthorized', 'The API key or token is missing, malformed, unknown or expired.'), { refusal });
      }
      // API Gateway's AUTHORIZER_FAILURE; the deployment answers it with 503 too.
      throw new ApiError('service-unavailable', 'Authentication is temporarily unavailable; retry later.', { headers: { 'retry-after': '5' } });
    }
    const allowed = result.policyDocument.Statement.some((statement) => statement.Effect === 'Allow');
    if (!allowed) throw new ApiError('unauthorized', 'The API key or token is not allowed here.');
    // INVALID_API_KEY is a 403 in API Gateway; the deployment customises it to 401, as the vendor answers.
    if (!result.usageIdentifierKey || !isValidKey(result.usageIdentifierKey)) {
      throw new ApiError('unauthorized', 'The API key or token is missing, malformed, unknown or expired.');
    }
    return result;
  }

  async function withIntegrationTimeout(promise: Promise<ApiResult>): Promise<ApiResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ApiError('gateway-timeout', `The integration did not answer within ${env.INTEGRATION_TIMEOUT_MS} ms.`)), env.INTEGRATION_TIMEOUT_MS);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<{ status: number; keyId?: string }> {
    const url = requestUrl(req.url);
    if (!url) throw new ApiError('not-found', 'The request target is not a valid path.');
    const path = url.pathname;
    const method = req.method ?? 'GET';

    if (path === '/health') {
      if (method !== 'GET' && method !== 'HEAD') throw new ApiError('method-not-allowed', 'Use GET /health.', { headers: { allow: 'GET, HEAD' } });
      const up = await backend.probe(env.HEALTH_PATH, 2000);
      if (!up) throw new ApiError('service-unavailable', 'The face verification backend is not answering.', { headers: { 'retry-after': '5' } });
      send(res, { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'ok' }) }, requestId);
      return { status: 200 };
    }

    // CORS preflight (only with CORS_ALLOW_ORIGINS), like the OPTIONS mock integration in AWS: no auth, no body.
    if (method === 'OPTIONS' && env.CORS_ALLOW_ORIGINS.length > 0 && (routes.has(path) || path === '/swagger' || path.startsWith('/swagger/'))) {
      const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
      send(res, { statusCode: 204, headers: preflightHeaders(env.CORS_ALLOW_ORIGINS, origin), body: '' }, requestId);
      return { status: 204 };
    }

    if (path === '/swagger' || path.startsWith('/swagger/')) {
      // Public documentation answers GET/HEAD only: its body is never read (nor drained, see send).
      const event = proxyEvent({ method, path, resource: '/swagger/{proxy+}', query: url.searchParams, headers: req.headers, body: Buffer.alloc(0), requestId, sourceIp: req.socket.remoteAddress ?? '' });
      const result = await docs(event);
      send(res, result, requestId);
      return { status: result.statusCode };
    }

    const route = routes.get(path);
    if (!route) throw new ApiError('not-found', `No route for ${method} ${path.length > 200 ? `${path.slice(0, 200)}...` : path}.`);
    if (method !== route.method) throw new ApiError('method-not-allowed', `Use ${route.method} ${path}.`, { headers: { allow: route.method } });

    // Credentials come from the headers alone: a caller that is refused or throttled is answered
    // before one byte of its body is read (the connection is then closed, see below).
    const auth = await runAuthorizer(req, path, requestId);
    const usageKey = auth.usageIdentifierKey!;
    const id = keyId(usageKey);
    if (buckets) {
      const waitSeconds = buckets.take(usageKey);
      if (waitSeconds > 0) {
        throw Object.assign(new ApiError('too-many-requests', 'Rate limit exceeded for this API key; retry after the Retry-After header.', { headers: { 'retry-after': String(Math.max(1, Math.ceil(waitSeconds))) } }), { keyId: id });
      }
    }

    const body = await readBody(req);
    if (body === undefined) throw Object.assign(new ApiError('payload-too-large', `The request body must be at most ${LIMITS.apiGatewayMaxBodyBytes} bytes (API Gateway's limit).`), { keyId: id });
    const event = proxyEvent({
      method, path, resource: path, query: url.searchParams, headers: req.headers, body, requestId,
      sourceIp: req.socket.remoteAddress ?? '',
      authorizer: { principalId: auth.principalId, ...auth.context },
      apiKey: usageKey,
    });
    const result = await withIntegrationTimeout(route.handler(event));
    send(res, result, requestId);
    return { status: result.statusCode, keyId: id };
  }

  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const requestId = randomUUID();
    const finish = (status: number, id?: string, refusal?: string) =>
      log('info', 'request', {
        requestId,
        method: req.method,
        path: (requestUrl(req.url)?.pathname ?? '(invalid)').slice(0, 200),
        status,
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
        ...(id ? { keyId: id } : {}),
        ...(refusal ? { refusal } : {}),
      });
    handle(req, res, requestId).then(
      ({ status, keyId: id }) => finish(status, id),
      (error: unknown) => {
        const apiError = error instanceof ApiError ? error : new ApiError('internal-error', 'An unexpected error occurred; quote the request id when reporting it.');
        if (!(error instanceof ApiError)) log('error', 'unexpected gateway error', { requestId, errorName: (error as Error)?.name });
        if (!res.headersSent) {
          // A refusal before the body was read (401, 429, 413 ...): close the connection instead of
          // draining the rest of the body, so a refused caller cannot make us read its upload.
          if (apiError.status === 413 || !req.complete) res.setHeader('connection', 'close');
          send(res, problemOf(apiError, requestId), requestId);
        } else res.destroy();
        finish(apiError.status, (error as { keyId?: string }).keyId, (error as { refusal?: string }).refusal);
      },
    ).catch(() => res.destroy()); // a failure while answering a failure must not become an unhandled rejection (fatal in Node)
  });
  // Slow clients cannot hold a connection forever (API Gateway cuts at 30 s too).
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;

  return {
    url: `http://${host}:${port}`,
    port,
    apiKeys,
    backendUrl,
    embeddedEngine: engine !== undefined,
    ...(compareWatch ? { compareWatch } : {}),
    async close() {
      compareWatch?.stop();
      await checkBackend?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight requests get 5 s to finish, then their sockets are cut.
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      await backend.close();
      await engine?.close();
    },
  };
}
