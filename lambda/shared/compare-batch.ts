/**
 * compare-face-embeddings-batch (extension, issue 11): one probe embedding against 1 to 1,000
 * candidates, answered `{similarities: [...]}` in the candidates' order. Each similarity is what
 * compare-face-embeddings answers for that pair:
 * - table mode scores every pair in-process with the single compare's own code
 *   (`tableSimilarity`), and follows its fallback: while compares are forwarded, batches are too;
 * - forward mode (and the fallback) calls the backend's compare-face-embeddings once per
 *   candidate, at most `concurrency` calls in flight, all drawing from one request deadline
 *   (deadline.ts): when it runs out the client gets our 504 problem, never a partial answer.
 *
 * It is served by the compare function (a second route on the same Lambda): it needs exactly
 * that function's configuration (mode, score table, switch, backend URL, VPC access), and the
 * function's alarms and dashboard widget then cover both routes.
 */
import type { BackendClient } from './backend-client.js';
import { checkTableDimension, compareScorer, createCompareHandler, isFiniteNumberArray, tableSimilarity, type CompareDeps } from './compare.js';
import {
  CompareFaceEmbeddingsBatchRequestSchema,
  CompareFaceEmbeddingsResponseSchema,
  MAX_BATCH_EMBEDDINGS,
  PATHS,
  parseRequest,
  type CompareFaceEmbeddingsBatchRequest,
} from './contract.js';
import { budgetExhausted, startRequestDeadline, type RemainingTime, type RequestDeadline } from './deadline.js';
import { answer, jsonResult, readJsonBody, type ApiEvent, type ApiResult } from './http.js';
import { ApiError } from './problem.js';

/**
 * Default bound on the backend calls one batch keeps in flight in forward mode. A compare is a few
 * microseconds of CPU in the container and the rest is the round trip through the internal ALB, so
 * a handful of calls in flight hides the latency; 8 is twice the default task's 4 vCPUs
 * (compute.cpu 4096), enough to keep them busy, while one 1,000-candidate batch holds at most 8 of
 * the container's request slots instead of queueing 1,000 requests ahead of every other client.
 */
export const DEFAULT_BATCH_CONCURRENCY = 8;

/**
 * Upper bound of the setting: the backend client's keep-alive pool has 64 sockets
 * (backend-client.ts `maxSockets`); more calls in flight would only queue inside the agent.
 * 64 sockets are far inside a Lambda instance's 1,024 file descriptors ("Lambda quotas",
 * Function configuration, deployment, and execution), and an instance serves one batch at a time.
 */
export const MAX_BATCH_CONCURRENCY = 64;

/** Options of the batch route beyond the compare function's {@link CompareDeps}. */
export interface CompareBatchOptions {
  /**
   * Backend calls in flight per batch in forward mode (1 to {@link MAX_BATCH_CONCURRENCY}).
   * @default DEFAULT_BATCH_CONCURRENCY (8)
   */
  readonly concurrency?: number;
  /**
   * API Gateway's integration timeout for this route (the request deadline is derived from it).
   * @default LIMITS.apiGatewayIntegrationTimeoutMs (29 000)
   */
  readonly integrationTimeoutMs?: number;
}

/**
 * Validates a batch body. The common valid case is one tight loop over the numbers; anything
 * else goes through the zod schema, the single source of the rules and of every message (a
 * property test keeps the two in agreement).
 */
export function parseCompareBatchRequest(body: unknown): CompareFaceEmbeddingsBatchRequest {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const { embedding, embeddings } = body as Record<string, unknown>;
    if (isFiniteNumberArray(embedding) && Array.isArray(embeddings) && embeddings.length >= 1 && embeddings.length <= MAX_BATCH_EMBEDDINGS) {
      let ok = true;
      for (let i = 0; i < embeddings.length && ok; i++) {
        const candidate: unknown = embeddings[i];
        ok = isFiniteNumberArray(candidate) && candidate.length === embedding.length;
      }
      if (ok) return { embedding, embeddings: embeddings as number[][] };
    }
  }
  return parseRequest(CompareFaceEmbeddingsBatchRequestSchema, body);
}

/** Table mode: every pair scored in-process by the single compare's code, in order. */
export function tableSimilarities(table: Extract<CompareDeps, { mode: 'table' }>['table'], embedding: readonly number[], embeddings: readonly (readonly number[])[]): number[] {
  checkTableDimension(table, embedding, 'embedding');
  const probeIsZero = isZero(embedding);
  const out = new Array<number>(embeddings.length);
  for (let i = 0; i < embeddings.length; i++) {
    // A refused zero vector names the probe when it is the zero one, else the candidate.
    out[i] = tableSimilarity(table, embedding, embeddings[i]!, `embedding/embeddings[${i}]`, probeIsZero ? 'embedding' : `embeddings[${i}]`);
  }
  return out;
}

function isZero(vector: readonly number[]): boolean {
  for (let i = 0; i < vector.length; i++) if (vector[i] !== 0) return false;
  return true;
}

/**
 * Forward mode: one compare-face-embeddings call per candidate, at most `concurrency` in flight,
 * each given what is left of the request's budget. The first failure stops new calls and is
 * the answer (a backend 4xx names the candidate); a budget that runs out is a 504.
 */
export async function forwardSimilarities(
  backend: BackendClient,
  embedding: readonly number[],
  embeddings: readonly (readonly number[])[],
  requestId: string,
  deadline: RequestDeadline,
  concurrency: number,
): Promise<number[]> {
  const out = new Array<number>(embeddings.length);
  // The probe is serialised once; each body is byte for byte JSON.stringify({embedding1, embedding2}).
  const probe = JSON.stringify(embedding);
  let next = 0;
  let stopped = false;
  let done = 0;
  const worker = async () => {
    while (!stopped && next < embeddings.length) {
      const i = next++;
      const leftMs = deadline.remainingMs();
      if (leftMs <= 0 || deadline.signal.aborted) throw budgetExhausted(`waiting for the backend, ${done} of ${embeddings.length} candidates compared`, deadline.budgetMs);
      try {
        const result = await backend.postJson(
          PATHS.compareFaceEmbeddings,
          `{"embedding1":${probe},"embedding2":${JSON.stringify(embeddings[i])}}`,
          CompareFaceEmbeddingsResponseSchema,
          requestId,
          { timeoutMs: leftMs },
        );
        out[i] = result.similarity;
        done++;
      } catch (error) {
        stopped = true;
        // The backend's verdict on this pair (e.g. a zero vector): a 400 naming the candidate.
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          const reason = 'was refused by the backend';
          throw new ApiError('validation-error', `embeddings[${i}]: ${error.message}`, { errors: [{ field: `embeddings[${i}]`, reason }], cause: error });
        }
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, embeddings.length)) }, worker);
  try {
    await deadline.race(Promise.all(workers), `waiting for the backend (${embeddings.length} candidates, ${concurrency} at a time)`);
  } finally {
    stopped = true;
  }
  return out;
}

/**
 * The batch handler (needs the compare function's deps). Table mode answers in-process unless
 * its fallback says compares are forwarded; forward mode (and the fallback) calls the backend.
 */
export function createCompareBatchHandler(deps: CompareDeps, options: CompareBatchOptions = {}): (event: ApiEvent, context?: RemainingTime) => Promise<ApiResult> {
  const concurrency = options.concurrency ?? DEFAULT_BATCH_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_BATCH_CONCURRENCY) {
    throw new Error(`compare batch: concurrency must be an integer from 1 to ${MAX_BATCH_CONCURRENCY}, got ${concurrency}`);
  }
  return async (event, context) => {
    const deadline = startRequestDeadline({ integrationTimeoutMs: options.integrationTimeoutMs, context });
    try {
      return await answer(event, deps.logger, async (requestId) => {
        const { embedding, embeddings } = parseCompareBatchRequest(readJsonBody(event));
        const probe = embedding!;
        const candidates = embeddings as number[][];
        const forward = async (backend: BackendClient) => {
          const started = Date.now();
          const similarities = await forwardSimilarities(backend, probe, candidates, requestId, deadline, concurrency);
          deps.logger.info('backend answered', { requestId, operation: PATHS.compareFaceEmbeddingsBatch, candidates: candidates.length, concurrency, backendMs: Date.now() - started });
          return jsonResult(200, { similarities }, requestId);
        };
        const scorer = await compareScorer(deps);
        if ('backend' in scorer) return forward(scorer.backend);
        return jsonResult(200, { similarities: tableSimilarities(scorer.table, probe, candidates) }, requestId);
      });
    } finally {
      deadline.dispose();
    }
  };
}

/** `/prod/v1/...` -> `/v1/...`. */
function stripStage(path: string): string {
  const index = path.indexOf('/v1/');
  return index >= 0 ? path.slice(index) : path;
}

/** True when the event is for the batch route (REST resource, or the path without a stage). */
export function isBatchEvent(event: ApiEvent): boolean {
  return event.resource === PATHS.compareFaceEmbeddingsBatch || stripStage(event.path ?? '') === PATHS.compareFaceEmbeddingsBatch;
}

/**
 * The compare function's entry: compare-face-embeddings-batch by its route, every other event
 * compare-face-embeddings exactly as before.
 */
export function createCompareRoutesHandler(deps: CompareDeps, options: CompareBatchOptions = {}): (event: ApiEvent, context?: RemainingTime) => Promise<ApiResult> {
  const single = createCompareHandler(deps);
  const batch = createCompareBatchHandler(deps, options);
  return (event, context) => (isBatchEvent(event) ? batch(event, context) : single(event));
}
