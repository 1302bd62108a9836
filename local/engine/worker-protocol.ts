/**
 * The messages between the engine's worker pool (pool.ts, main thread) and a worker
 * (worker-core.ts). Kept apart from worker-core.ts so the main thread loads neither
 * tfjs nor face-api: it only needs these shapes and the error (de)serialisation.
 */
import { ApiError, type FieldError, type ProblemKind } from '../../lambda/shared/problem.js';
import type { DetectResult, EmbedResult, EngineOptions } from './engine.js';
import type { RuntimeInfo } from './runtime.js';

/** A job posted by the pool; `bytes` is transferred (the pool's copy is detached). */
export interface WorkerJob {
  readonly id: number;
  readonly kind: 'detect' | 'embed';
  readonly bytes: Uint8Array;
  readonly maxFaceCount: number;
}

/** An error as it crosses the thread boundary: an ApiError keeps its kind, anything else only name and message. */
export type WorkerError =
  | { readonly api: true; readonly kind: ProblemKind; readonly message: string; readonly errors?: readonly FieldError[]; readonly headers?: Record<string, string> }
  | { readonly api: false; readonly name: string; readonly message: string };

/** Messages a worker posts to the pool. */
export type WorkerMessage =
  | { readonly type: 'loaded'; readonly info: RuntimeInfo; readonly threadId: number }
  | { readonly type: 'ready'; readonly warmUpMs: number }
  | { readonly type: 'warm-up-failed'; readonly error: WorkerError }
  | { readonly type: 'done'; readonly id: number; readonly result: DetectResult | EmbedResult }
  | { readonly type: 'failed'; readonly id: number; readonly error: WorkerError };

/** What the pool passes as `workerData`. */
export interface EngineWorkerData {
  readonly engineOptions: Pick<EngineOptions, 'embedFaceSide' | 'cropMargin' | 'minConfidence'>;
}

export function toWorkerError(error: unknown): WorkerError {
  if (error instanceof ApiError) {
    return { api: true, kind: error.kind, message: error.message, errors: error.errors, headers: error.headers ? { ...error.headers } : undefined };
  }
  // Name and message only (a stack can be long, and nothing else is needed); neither tfjs nor sharp put pixels in messages.
  return { api: false, name: String((error as Error)?.name ?? 'Error'), message: String((error as Error)?.message ?? error).slice(0, 300) };
}

/** Rebuilds a worker's error on the pool's side. */
export function fromWorkerError(error: WorkerError): Error {
  if (error.api) return new ApiError(error.kind, error.message, { errors: error.errors, headers: error.headers });
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  return rebuilt;
}
