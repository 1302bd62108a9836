/**
 * The inside of one engine worker thread (started by pool.ts through worker.mjs):
 * creates the in-process engine of engine.ts (models loaded in this thread), then
 * answers jobs from the pool one at a time. Images arrive as transferred bytes;
 * results leave as plain objects (structured clone). Nothing is logged here.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { ApiError, type FieldError, type ProblemKind } from '../../lambda/shared/problem.js';
import { createEngine, type DetectResult, type EmbedResult, type EngineOptions } from './engine.js';
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

/** Test hooks for a worker entry of a test's own (the pool's `workerUrl` option); production passes none. */
export interface EngineWorkerHooks {
  /** Runs before each job; may hang or throw to play a stalled or crashing worker. */
  beforeJob?(job: WorkerJob): Promise<void> | void;
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

/** Starts serving jobs on `parentPort`; resolves once the models are loaded. */
export async function runEngineWorker(hooks: EngineWorkerHooks = {}): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('runEngineWorker() runs only inside a worker thread');
  const { engineOptions } = workerData as EngineWorkerData;
  // maxWaiting 1: the pool sends one job at a time, which may wait behind the warm-up only.
  const engine = await createEngine({ ...engineOptions, maxWaiting: 1 });
  port.postMessage({ type: 'loaded', info: { ...engine.info }, threadId } satisfies WorkerMessage);
  engine.ready.then(
    () => port.postMessage({ type: 'ready', warmUpMs: engine.info.warmUpMs ?? 0 } satisfies WorkerMessage),
    (error: unknown) => port.postMessage({ type: 'warm-up-failed', error: toWorkerError(error) } satisfies WorkerMessage),
  );
  port.on('message', (job: WorkerJob) => {
    void (async () => {
      try {
        await hooks.beforeJob?.(job);
        // A Buffer view of the transferred bytes, no copy.
        const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
        const result = job.kind === 'detect' ? await engine.detect(bytes, job.maxFaceCount) : await engine.embed(bytes, job.maxFaceCount);
        port.postMessage({ type: 'done', id: job.id, result } satisfies WorkerMessage);
      } catch (error) {
        port.postMessage({ type: 'failed', id: job.id, error: toWorkerError(error) } satisfies WorkerMessage);
      }
    })();
  });
}
