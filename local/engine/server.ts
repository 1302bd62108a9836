/**
 * The embedded engine behind the vendor container's HTTP contract (node:http,
 * no framework), so the gateway's real forwarding code runs on a laptop:
 * POST detect-faces / get-face-embeddings / compare-face-embeddings,
 * GET /swagger/index.html (what health checks probe on the real container) and /health.
 * Every error is an RFC 9457 problem; client input never yields a 5xx.
 * Nothing here logs request bodies, images or embeddings.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CompareFaceEmbeddingsRequestSchema,
  FaceImageRequestSchema,
  PATHS,
  parseRequest,
} from '../../lambda/shared/contract.js';
import { LIMITS } from '../../lambda/shared/limits.js';
import { ApiError, PROBLEM_CONTENT_TYPE } from '../../lambda/shared/problem.js';
import type { FaceEngine } from './engine.js';
import { createEnginePool, type EnginePoolOptions } from './pool.js';
import { loadEngineScoreTable, type ScoreTable } from './score.js';
import { scoreEmbeddings } from '../../lambda/shared/score-table.js';

export interface EngineServerOptions {
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** TCP port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** An engine already created (tests share one; the caller closes it); otherwise a worker pool is created with `engineOptions`. */
  readonly engine?: FaceEngine;
  /** Options of the worker pool created when `engine` is not given (`workers` @default os.availableParallelism()). */
  readonly engineOptions?: EnginePoolOptions;
  /** The compare function. @default local/engine/score-table.json */
  readonly scoreTable?: ScoreTable;
  /** Largest accepted request body; API Gateway REST's payload limit. @default 10 MiB (10,485,760 bytes) */
  readonly maxBodyBytes?: number;
  /** Where unexpected (5xx) failures are reported: error name and message only. @default console.error */
  readonly logError?: (line: string) => void;
}

export interface EngineServer {
  /** Base URL, e.g. `http://127.0.0.1:8081`. */
  readonly url: string;
  readonly engine: FaceEngine;
  /** Stops listening, closes open connections and terminates the workers of an engine it created. */
  close(): Promise<void>;
}

type Route = { readonly methods: readonly string[]; readonly handle: (req: http.IncomingMessage) => Promise<{ status: number; body: unknown }> };

const SWAGGER_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Face Verification API - embedded engine</title></head>
<body><h1>Face Verification API (embedded open-source engine)</h1>
<p>Stand-in for the vendor container on a laptop. Its embeddings and scores are its own and not comparable with the vendor's.</p>
<ul>
<li>POST ${PATHS.detectFaces}</li>
<li>POST ${PATHS.getFaceEmbeddings}</li>
<li>POST ${PATHS.compareFaceEmbeddings}</li>
</ul></body></html>
`;

/** Reads a request body up to `limit` bytes; a larger one is refused with 413 before it is buffered. */
async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

const tooLarge = (limit: number) => new ApiError('payload-too-large', `The request body must be at most ${limit} bytes.`);

async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.length === 0) {
    throw new ApiError('validation-error', '(body): a JSON request body is required', { errors: [{ field: '(body)', reason: 'is required' }] });
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    // SyntaxError messages quote the input; only the position is safe to repeat.
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    throw new ApiError('invalid-json', `The request body is not valid JSON${position ? ` (error at position ${position})` : ''}.`);
  }
}

function imageBytesOf(image: { bytes?: string | null; url?: string | null }): Buffer {
  if (typeof image.bytes !== 'string') {
    // The gateway downloads image.url itself and forwards bytes; a container-like engine never fetches.
    throw new ApiError('validation-error', 'image.url: the embedded engine does not download URLs; send image.bytes', {
      errors: [{ field: 'image.url', reason: 'is not supported by the embedded engine; send image.bytes' }],
    });
  }
  return Buffer.from(image.bytes, 'base64');
}

/**
 * The table decides the accepted length, as the gateway's compare handler does in
 * table mode (lambda/shared/compare.ts): `dimension: null` (the engine's own table)
 * scores any length, a number refuses others. The schema has already made both lengths equal.
 */
function checkDimension(table: ScoreTable, embedding: readonly number[], field: string): void {
  if (table.dimension !== null && embedding.length !== table.dimension) {
    const reason = `must have ${table.dimension} numbers (the score table's embedding length), got ${embedding.length}`;
    throw new ApiError('validation-error', `${field}: ${reason}`, { errors: [{ field, reason }] });
  }
}

/**
 * Starts the engine's HTTP server. Resolves once it listens; the models are
 * loaded by then, and requests arriving during warm-up wait for it.
 */
export async function startEngineServer(options: EngineServerOptions = {}): Promise<EngineServer> {
  const logError = options.logError ?? ((line: string) => console.error(line));
  // Inference runs in worker threads: this thread only parses, validates and answers.
  const ownEngine = options.engine ? undefined : await createEnginePool({ logError, ...options.engineOptions });
  const engine: FaceEngine = options.engine ?? ownEngine!;
  const table = options.scoreTable ?? loadEngineScoreTable();
  const limit = options.maxBodyBytes ?? LIMITS.apiGatewayMaxBodyBytes;

  /**
   * Overload is refused before the body is read: a 10 MiB JSON body costs this thread (the one
   * answering /health) several milliseconds to parse and validate, for a request that would be refused.
   */
  const refuseWhenFull = () => {
    if (engine.full) {
      throw new ApiError('service-unavailable', `The face engine is busy (every worker busy, the waiting line full); retry shortly.`, { headers: { 'Retry-After': '1' } });
    }
  };

  const routes: Record<string, Route> = {
    [PATHS.detectFaces]: {
      methods: ['POST'],
      handle: async (req) => {
        refuseWhenFull();
        const request = parseRequest(FaceImageRequestSchema, await readJson(req, limit));
        return { status: 200, body: await engine.detect(imageBytesOf(request.image), request.maxFaceCount) };
      },
    },
    [PATHS.getFaceEmbeddings]: {
      methods: ['POST'],
      handle: async (req) => {
        refuseWhenFull();
        const request = parseRequest(FaceImageRequestSchema, await readJson(req, limit));
        return { status: 200, body: await engine.embed(imageBytesOf(request.image), request.maxFaceCount) };
      },
    },
    [PATHS.compareFaceEmbeddings]: {
      methods: ['POST'],
      handle: async (req) => {
        const { embedding1, embedding2 } = parseRequest(CompareFaceEmbeddingsRequestSchema, await readJson(req, limit));
        // The schema refuses null; the checks narrow the type.
        if (!embedding1 || !embedding2) throw new ApiError('validation-error', 'embedding1 and embedding2 are required');
        checkDimension(table, embedding1, 'embedding1');
        checkDimension(table, embedding2, 'embedding2');
        const similarity = scoreEmbeddings(table, embedding1, embedding2);
        if (similarity === 'refuse') {
          const reason = 'must not be all zeros (the cosine of a zero vector is undefined)';
          throw new ApiError('validation-error', `embedding1/embedding2: ${reason}`, {
            errors: [{ field: embedding1.every((x) => x === 0) ? 'embedding1' : 'embedding2', reason }],
          });
        }
        return { status: 200, body: { similarity } };
      },
    },
    [PATHS.swaggerUi]: { methods: ['GET', 'HEAD'], handle: async () => ({ status: 200, body: SWAGGER_PAGE }) },
    '/health': { methods: ['GET', 'HEAD'], handle: async () => ({ status: 200, body: { status: 'ok' } }) },
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomUUID();
    res.setHeader('x-request-id', requestId);
    try {
      // Node's parser lets through targets such as `//` that the WHATWG URL parser throws on.
      const pathname = URL.canParse(req.url ?? '/', 'http://engine.invalid') ? new URL(req.url ?? '/', 'http://engine.invalid').pathname : undefined;
      if (pathname === undefined) throw new ApiError('not-found', 'The request target is not a valid path.');
      const route = routes[pathname];
      if (!route) throw new ApiError('not-found', `No resource at ${pathname.slice(0, 200)}.`);
      if (!route.methods.includes(req.method ?? '')) {
        throw new ApiError('method-not-allowed', `${pathname} accepts ${route.methods.join(', ')}.`, {
          headers: { Allow: route.methods.join(', ') },
        });
      }
      const { status, body } = await route.handle(req);
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (caught) {
      let error: ApiError;
      if (caught instanceof ApiError) {
        error = caught;
      } else {
        // Name and message only: neither tfjs nor sharp put pixel data in messages, and bodies never reach here.
        logError(`engine: internal error on ${req.method} ${req.url?.slice(0, 200)}: ${(caught as Error)?.name}: ${String((caught as Error)?.message).slice(0, 300)}`);
        error = new ApiError('internal-error', 'The embedded face engine failed on this request.');
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE, ...error.headers };
      // An unread oversized body would otherwise be drained to the end; close the connection instead.
      if (error.kind === 'payload-too-large') headers.connection = 'close';
      res.writeHead(error.status, headers);
      res.end(JSON.stringify(error.toProblem(requestId)));
    }
  }

  const server = http.createServer((req, res) => {
    // A client that hangs up mid-request must not become an unhandled 'error' event.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await ownEngine?.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    engine,
    close: async () => {
      try {
        await new Promise<void>((resolve, reject) => {
          server.close((error) => (error ? reject(error) : resolve()));
          server.closeAllConnections();
        });
      } finally {
        await ownEngine?.close();
      }
    },
  };
}
