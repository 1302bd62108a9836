/**
 * The engine's inference off the event loop: a pool of `worker_threads` workers,
 * each running the in-process engine of engine.ts with its own copy of the models
 * (tfjs' WASM backend has no threads in Node, so one worker computes on one core).
 * The HTTP server stays on the calling thread and keeps answering /health, 404s,
 * validation errors and overload 503s while the workers compute.
 *
 * - Dispatch: a job goes to the next free worker at once, else waits in one bounded
 *   line (FIFO); a full line is refused at once with a 503 and `Retry-After: 1`.
 * - Images cross as transferred bytes (no copy of the base64 text, no copy of the
 *   decoded bytes when they own their buffer); results come back as plain objects.
 * - A worker that dies (an exception outside a job, an exit) is replaced; the job it
 *   ran is answered with a 503 problem, waiting jobs go to the other or the new worker.
 * - A job that outlives its deadline (`jobTimeoutMs`) gets a 504 problem; its worker
 *   is terminated and replaced, so a stalled worker cannot hold the line for ever.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
// sharp's docs (and lovell/sharp issue 2263): on glibc Linux the main thread must load
// sharp before worker threads do, so its shared libraries stay loaded while workers come and go.
import 'sharp';
import { LIMITS } from '../../lambda/shared/limits.js';
import { ApiError } from '../../lambda/shared/problem.js';
import type { DetectResult, EmbedResult, EngineOptions, FaceEngine } from './engine.js';
import type { RuntimeInfo } from './runtime.js';
import { fromWorkerError, type EngineWorkerData, type WorkerJob, type WorkerMessage } from './worker-protocol.js';

/** The production worker entry (registers tsx's loader, then runs worker-core.ts). */
export const ENGINE_WORKER_URL = new URL('./worker.mjs', import.meta.url);

/**
 * Deadline of one job once a worker has it. Below the gateway's 25 s backend timeout
 * (LIMITS.defaultBackendTimeoutMs, itself below API Gateway's 29 s integration timeout)
 * so a caller gets the engine's own 504 problem rather than the gateway's timeout,
 * and far above the slowest job measured (get-face-embeddings with 10 faces on a
 * 1920 px photo: about 1 s on this project's machine; a 40 MP image decodes in 1-2 s).
 */
export const DEFAULT_JOB_TIMEOUT_MS = LIMITS.defaultBackendTimeoutMs - 5_000;

/** Consecutive failed starts of one worker slot after which it is given up (no restart loop on a broken install). */
const MAX_START_FAILURES = 3;

export interface EnginePoolOptions extends EngineOptions {
  /** Worker threads, each with its own models; at least 1. @default os.availableParallelism() */
  readonly workers?: number;
  /** Deadline of one job once a worker runs it (ms); then 504 and the worker is replaced. @default 20000 */
  readonly jobTimeoutMs?: number;
  /** Worker entry module. Tests pass one with hooks; @default ENGINE_WORKER_URL */
  readonly workerUrl?: URL;
  /** Where worker crashes and replacements are reported: error name and message only. @default console.error */
  readonly logError?: (line: string) => void;
}

/** Counters of the pool (tests, benchmark, log lines). */
export interface EnginePoolStats {
  /** Live worker threads (starting, idle or busy). */
  readonly workers: number;
  /** Jobs running in a worker now. */
  readonly busy: number;
  /** Workers replaced after a crash or a missed deadline. */
  readonly replaced: number;
}

/**
 * A `FaceEngine` whose detect/embed run in worker threads. The image bytes are moved to the
 * worker: a Buffer that owns its whole ArrayBuffer (e.g. a large `Buffer.from(base64)`, a
 * `readFileSync` result) is detached by the call, so pass a copy if you still need it.
 */
export interface EnginePool extends FaceEngine {
  readonly info: RuntimeInfo & { warmUpMs?: number; workers: number; startMs: number };
  stats(): EnginePoolStats;
  /** Terminates the workers; jobs still waiting or running are answered with a 503. */
  close(): Promise<void>;
}

interface Job {
  readonly kind: WorkerJob['kind'];
  bytes: Uint8Array;
  readonly maxFaceCount: number;
  readonly resolve: (value: DetectResult | EmbedResult) => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  state: 'starting' | 'idle' | 'busy';
  job?: { readonly id: number; readonly job: Job; readonly timer: NodeJS.Timeout };
  /** Set before this thread is terminated on purpose (deadline, close). */
  retiring?: 'deadline' | 'close';
  startFailures: number;
}

const unavailable = (detail: string) => new ApiError('service-unavailable', detail, { headers: { 'Retry-After': '1' } });

/**
 * The bytes of `view` as a Uint8Array that owns its whole ArrayBuffer, so it can be transferred:
 * a Buffer from Node's shared pool (small inputs) or a slice of a larger buffer is copied
 * (transferring it would detach memory other Buffers use); one that owns its buffer moves as is.
 */
function transferable(view: Uint8Array): Uint8Array {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer) {
    return new Uint8Array(view.buffer, 0, view.byteLength);
  }
  return new Uint8Array(view);
}

/**
 * Starts the workers and resolves when every one has loaded its models (their warm-up
 * inferences then run in the background; `ready` resolves after them). Rejects when a
 * worker fails to load (the others are terminated).
 */
export async function createEnginePool(options: EnginePoolOptions = {}): Promise<EnginePool> {
  const size = options.workers ?? availableParallelism();
  if (!Number.isInteger(size) || size < 1) throw new Error(`workers must be an integer >= 1, got ${size}`);
  const jobTimeoutMs = options.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
  const maxWaiting = options.maxWaiting ?? 16;
  const workerUrl = options.workerUrl ?? ENGINE_WORKER_URL;
  const logError = options.logError ?? ((line: string) => console.error(line));
  const workerData: EngineWorkerData = {
    engineOptions: { embedFaceSide: options.embedFaceSide, cropMargin: options.cropMargin, minConfidence: options.minConfidence },
  };

  const started = performance.now();
  const slots: Slot[] = [];
  const waiting: Job[] = [];
  let nextId = 1;
  let replaced = 0;
  let closed = false;
  let info: EnginePool['info'] | undefined;

  let settleStart!: { resolve: () => void; reject: (error: Error) => void };
  const allLoaded = new Promise<void>((resolve, reject) => (settleStart = { resolve, reject }));
  let loadedCount = 0;
  let initial = true;
  let settleReady!: { resolve: () => void; reject: (error: Error) => void };
  const ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }));
  ready.catch(() => undefined); // callers await `ready` themselves
  let readyCount = 0;
  let warmUpMs = 0;

  function pump(): void {
    for (const slot of slots) {
      if (waiting.length === 0) return;
      if (slot.state === 'idle') dispatch(slot, waiting.shift()!);
    }
  }

  function dispatch(slot: Slot, job: Job): void {
    const id = nextId++;
    const bytes = job.bytes;
    job.bytes = new Uint8Array(0); // moved to the worker
    const timer = setTimeout(() => {
      if (slot.job?.id !== id) return;
      slot.job = undefined;
      job.reject(new ApiError('gateway-timeout', `The face engine did not finish this request within ${jobTimeoutMs} ms; its worker is being restarted.`));
      logError(`engine: a worker missed the ${jobTimeoutMs} ms job deadline; replacing it`);
      slot.retiring = 'deadline';
      void slot.worker.terminate();
    }, jobTimeoutMs);
    slot.state = 'busy';
    slot.job = { id, job, timer };
    slot.worker.postMessage({ id, kind: job.kind, bytes, maxFaceCount: job.maxFaceCount } satisfies WorkerJob, [bytes.buffer as ArrayBuffer]);
  }

  function spawn(slot: Slot | undefined): Slot {
    const worker = new Worker(workerUrl, { workerData, stdout: false, stderr: false });
    const current: Slot = slot ?? { worker, state: 'starting', startFailures: 0 };
    current.worker = worker;
    current.state = 'starting';
    current.retiring = undefined;
    current.job = undefined;
    let loaded = false;

    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'loaded':
          loaded = true;
          current.startFailures = 0;
          current.state = 'idle';
          info ??= { ...message.info, workers: size, startMs: 0 };
          if (initial && ++loadedCount === size) {
            initial = false;
            info.startMs = performance.now() - started;
            settleStart.resolve();
          }
          pump();
          break;
        case 'ready':
          warmUpMs = Math.max(warmUpMs, message.warmUpMs);
          if (++readyCount === size) {
            if (info) info.warmUpMs = warmUpMs;
            settleReady.resolve();
          }
          break;
        case 'warm-up-failed':
          settleReady.reject(fromWorkerError(message.error));
          break;
        case 'done':
        case 'failed': {
          const running = current.job;
          if (!running || running.id !== message.id) break; // answered already (deadline)
          clearTimeout(running.timer);
          current.job = undefined;
          current.state = 'idle';
          if (message.type === 'done') running.job.resolve(message.result);
          else running.job.reject(fromWorkerError(message.error));
          pump();
          break;
        }
      }
    });
    worker.on('error', (error) => {
      // An exception outside a job (or a failed start): name and message only.
      logError(`engine: worker thread failed: ${error?.name}: ${String(error?.message).slice(0, 300)}`);
    });
    worker.on('exit', (code) => {
      const running = current.job;
      current.job = undefined;
      if (running) {
        clearTimeout(running.timer);
        running.job.reject(unavailable('The face engine worker processing this request stopped; retry the request.'));
      }
      if (closed || current.retiring === 'close') return;
      if (!loaded) {
        current.startFailures++;
        if (initial) {
          settleStart.reject(new Error(`an engine worker exited with code ${code} before its models were loaded`));
          return;
        }
      }
      if (current.startFailures >= MAX_START_FAILURES) {
        logError(`engine: a worker failed to start ${MAX_START_FAILURES} times; giving that worker up`);
        slots.splice(slots.indexOf(current), 1);
        if (slots.length === 0) {
          for (const job of waiting.splice(0)) job.reject(unavailable('The face engine has no working worker left; restart it.'));
        }
        return;
      }
      replaced++;
      if (current.retiring !== 'deadline') logError(`engine: worker thread exited (code ${code}); starting a replacement`);
      spawn(current);
    });
    return current;
  }

  for (let i = 0; i < size; i++) slots.push(spawn(undefined));

  async function close(): Promise<void> {
    closed = true;
    for (const job of waiting.splice(0)) job.reject(unavailable('The face engine is shutting down.'));
    await Promise.all(
      slots.map((slot) => {
        slot.retiring = 'close';
        return slot.worker.terminate();
      }),
    );
  }

  try {
    await allLoaded;
  } catch (error) {
    await close();
    throw error;
  }

  function run(kind: Job['kind'], bytes: Buffer, maxFaceCount: number): Promise<DetectResult | EmbedResult> {
    if (closed) return Promise.reject(unavailable('The face engine is shutting down.'));
    if (slots.length === 0) return Promise.reject(unavailable('The face engine has no working worker left; restart it.'));
    return new Promise((resolve, reject) => {
      const job: Job = { kind, bytes: transferable(bytes), maxFaceCount, resolve, reject };
      const idle = slots.find((slot) => slot.state === 'idle');
      if (idle && waiting.length === 0) {
        dispatch(idle, job);
        return;
      }
      if (waiting.length >= maxWaiting) {
        reject(unavailable(`The face engine is busy (${maxWaiting} requests already waiting); retry shortly.`));
        return;
      }
      waiting.push(job);
    });
  }

  return {
    ready,
    info: info!,
    get waiting() {
      return waiting.length;
    },
    get full() {
      return waiting.length >= maxWaiting && !slots.some((slot) => slot.state === 'idle');
    },
    stats: () => ({ workers: slots.length, busy: slots.filter((slot) => slot.state === 'busy').length, replaced }),
    detect: (bytes, maxFaceCount) => run('detect', bytes, maxFaceCount) as Promise<DetectResult>,
    embed: (bytes, maxFaceCount) => run('embed', bytes, maxFaceCount) as Promise<EmbedResult>,
    close,
  };
}
