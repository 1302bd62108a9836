/**
 * compare-face-embeddings: validate, then score in-process from a score table
 * (`table` mode) or forward to the backend (`forward` mode, the default for a
 * vendor backend without a verified table).
 */
import type { BackendClient, PostOptions } from './backend-client.js';
import {
  CompareFaceEmbeddingsRequestSchema,
  CompareFaceEmbeddingsResponseSchema,
  PATHS,
  parseRequest,
  type CompareFaceEmbeddingsRequest,
} from './contract.js';
import { answer, jsonResult, readJsonBody, type ApiEvent, type ApiResult, type HandlerLogger } from './http.js';
import { LIMITS } from './limits.js';
import { ApiError } from './problem.js';
import { scoreEmbeddings, type ScoreTable } from './score-table.js';

export type CompareMode = 'table' | 'forward';

/**
 * Table mode's way back to the container: when `forwarding()` says so (the live check found the
 * table disagreeing with the container), compares are forwarded until an operator switches back.
 */
export interface CompareFallback {
  readonly backend: BackendClient;
  /** True while compares must go to the container; read on every request (keep it cheap: cache). */
  readonly forwarding: () => boolean | Promise<boolean>;
}

export type CompareDeps =
  | { readonly mode: 'table'; readonly table: ScoreTable; readonly logger: HandlerLogger; readonly fallback?: CompareFallback }
  | { readonly mode: 'forward'; readonly backend: BackendClient; readonly logger: HandlerLogger };

/** An embedding as the schema accepts it: 1 to 4,096 finite numbers (the fast path's check). */
export function isFiniteNumberArray(value: unknown): value is number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > LIMITS.maxEmbeddingLength) return false;
  for (let i = 0; i < value.length; i++) {
    const x = value[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) return false;
  }
  return true;
}

/**
 * Validates a compare body. The common valid case is checked with one tight loop;
 * anything else goes through the zod schema, which stays the single source of the
 * rules and of every error message (a property test keeps the two in agreement).
 */
export function parseCompareRequest(body: unknown): CompareFaceEmbeddingsRequest {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const { embedding1, embedding2 } = body as Record<string, unknown>;
    if (isFiniteNumberArray(embedding1) && isFiniteNumberArray(embedding2) && embedding1.length === embedding2.length) {
      return { embedding1, embedding2 };
    }
  }
  return parseRequest(CompareFaceEmbeddingsRequestSchema, body);
}

/** The 400 for an embedding of another length than the table's `dimension`. */
function dimensionProblem(field: string, dimension: number, length: number): ApiError {
  const reason = `must have ${dimension} numbers (the backend's embedding size), got ${length}`;
  return new ApiError('validation-error', `${field}: ${reason}`, { errors: [{ field, reason }] });
}

/** The 400 for a zero vector under a table that refuses those. */
function zeroVectorProblem(detailFields: string, field: string): ApiError {
  const reason = 'must not be a zero vector (its direction, and so the cosine, is undefined)';
  return new ApiError('validation-error', `${detailFields}: ${reason}`, { errors: [{ field, reason }] });
}

/**
 * Table mode: refuses an embedding whose length is not the table's `dimension` (400 naming `field`).
 * Shared by compare-face-embeddings and the batch extension, so both refuse alike.
 */
export function checkTableDimension(table: ScoreTable, embedding: readonly number[], field: string): void {
  const { dimension } = table;
  if (dimension !== null && embedding.length !== dimension) throw dimensionProblem(field, dimension, embedding.length);
}

/**
 * Table mode's similarity of one pair: the one scoring code of compare-face-embeddings and
 * of every pair of the batch extension. A zero vector with a table that refuses those is a
 * 400 whose detail starts with `detailFields` and whose `errors[0].field` is `field`.
 */
export function tableSimilarity(table: ScoreTable, a: readonly number[], b: readonly number[], detailFields: string, field: string): number {
  const similarity = scoreEmbeddings(table, a, b);
  if (similarity === 'refuse') throw zeroVectorProblem(detailFields, field);
  return similarity;
}

export function createCompareHandler(deps: CompareDeps): (event: ApiEvent) => Promise<ApiResult> {
  return (event) =>
    answer(event, deps.logger, async (requestId) => {
      const request = parseCompareRequest(readJsonBody(event));
      const embedding1 = request.embedding1!;
      const embedding2 = request.embedding2!;
      const outcome = await compareSimilarity(deps, embedding1, embedding2, requestId);
      if ('refused' in outcome && outcome.refused === 'dimension') throw dimensionProblem('embedding1', outcome.dimension, embedding1.length);
      if ('refused' in outcome) throw zeroVectorProblem('embedding1/embedding2', 'embedding1');
      const { similarity } = outcome;
      return jsonResult(200, { similarity }, requestId);
    });
}

/**
 * Who scores a compare right now: the backend (forward mode, or table mode while the fallback says
 * so) or the score table. The one decision behind compare-face-embeddings, its batch and verify-faces.
 */
export async function compareScorer(deps: CompareDeps): Promise<{ readonly backend: BackendClient } | { readonly table: ScoreTable }> {
  if (deps.mode === 'forward') return { backend: deps.backend };
  if (deps.fallback && (await deps.fallback.forwarding())) return { backend: deps.fallback.backend };
  return { table: deps.table };
}

/** What {@link compareSimilarity} found: a similarity, or why the table cannot score the pair. */
export type SimilarityOutcome =
  | { readonly similarity: number }
  | { readonly refused: 'dimension'; readonly dimension: number }
  | { readonly refused: 'zero-vector' };

/**
 * The score compare-face-embeddings answers for a pair, in the deployment's mode: forwarded to the
 * backend (forward mode, or table mode while the fallback says so), else from the score table.
 * The one scoring path of compare-face-embeddings and verify-faces, so both answer the same number.
 * @param options what is left of the caller's request deadline for a forwarded compare @default the backend client's timeout
 */
export async function compareSimilarity(
  deps: CompareDeps,
  embedding1: number[],
  embedding2: number[],
  requestId: string,
  options?: PostOptions,
): Promise<SimilarityOutcome> {
  const forward = (backend: BackendClient) =>
    backend.postJson(
      PATHS.compareFaceEmbeddings,
      JSON.stringify({ embedding1, embedding2 }),
      CompareFaceEmbeddingsResponseSchema,
      requestId,
      options,
    );
  const scorer = await compareScorer(deps);
  if ('backend' in scorer) return forward(scorer.backend);
  const { table } = scorer;
  const { dimension } = table;
  if (dimension !== null && embedding1.length !== dimension) return { refused: 'dimension', dimension };
  const similarity = scoreEmbeddings(table, embedding1, embedding2);
  if (similarity === 'refuse') return { refused: 'zero-vector' };
  return { similarity };
}
