/**
 * The inside of one engine worker thread (started by pool.ts through worker.mjs):
 * creates the in-process engine of engine.ts (models loaded in this thread), then
 * answers jobs from the pool one at a time. Images arrive as transferred bytes;
 * results leave as plain objects (structured clone). Nothing is logged here.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { createEngine } from './engine.js';
import { lowerThreadPriority } from './thread-priority.js';
import { toWorkerError, type EngineWorkerData, type WorkerJob, type WorkerMessage } from './worker-protocol.js';

export type { EngineWorkerData, WorkerJob, WorkerMessage } from './worker-protocol.js';

/** Test hooks for a worker entry of a test's own (the pool's `workerUrl` option); production passes none. */
export interface EngineWorkerHooks {
  /** Runs before each job; may hang or throw to play a stalled or crashing worker. */
  beforeJob?(job: WorkerJob): Promise<void> | void;
}

/** Starts serving jobs on `parentPort`; resolves once the models are loaded. */
export async function runEngineWorker(hooks: EngineWorkerHooks = {}): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('runEngineWorker() runs only inside a worker thread');
  const { engineOptions } = workerData as EngineWorkerData;
  lowerThreadPriority();
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
