/**
 * Incremental sha256 of a blob as it streams through, either on the calling
 * thread or on a worker thread. SHA-256 ran at about 1.1 GB/s per core on this
 * project's 2-core x86 machine (scripts/bench/mirror.ts), no faster than a
 * loopback download: on the caller's thread its whole cost adds to the copy,
 * on a worker it runs beside the download when the function has more than one
 * vCPU (Lambda allocates CPU in proportion to memory: one vCPU's worth at
 * 1,769 MB, up to 6 at 10,240 MB; Lambda "Configure memory" docs).
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** An incremental sha256; `update` calls are applied in call order. */
export interface StreamingSha256 {
  /**
   * Adds bytes. The promise settles once the bytes have been read, so the
   * caller must not overwrite them before then.
   */
  update(bytes: Uint8Array): Promise<void>;
  /** `sha256:<hex>` of everything added. Call once. */
  digest(): Promise<string>;
  /** Frees resources (ends the worker). Safe to call more than once. */
  close(): void;
}

/** A sha256 computed synchronously on the calling thread. */
export function createInlineSha256(): StreamingSha256 {
  const hash = createHash('sha256');
  return {
    update(bytes) {
      hash.update(bytes);
      return Promise.resolve();
    },
    digest: () => Promise.resolve(`sha256:${hash.digest('hex')}`),
    close() {},
  };
}

// Runs as a CommonJS script (`eval: true`), so it survives bundling into one file.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m.type === 'update') {
    hash.update(new Uint8Array(m.buffer, m.offset, m.length));
    parentPort.postMessage({ type: 'ack' });
  } else if (m.type === 'digest') {
    parentPort.postMessage({ type: 'digest', hex: hash.digest('hex') });
  }
});
`;

/**
 * A sha256 computed on a worker thread. Bytes backed by a SharedArrayBuffer are
 * read in place (no copy); others are copied into the message.
 */
export function createWorkerSha256(): StreamingSha256 {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  // Replies come back in request order: one ack per update, then the digest.
  const waiting: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  let failed: Error | undefined;
  let closed = false;
  const failAll = (err: Error): void => {
    failed = err;
    for (const w of waiting.splice(0)) w.reject(err);
  };
  worker.on('message', (m: { type: string; hex?: string }) => waiting.shift()?.resolve(m.hex));
  worker.on('error', (err) => failAll(err));
  worker.on('exit', () => {
    if (!closed) failAll(new Error('sha256 worker exited'));
  });
  const request = (message: object, transfer: ArrayBuffer[] = []): Promise<unknown> => {
    if (failed) return Promise.reject(failed);
    return new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      worker.postMessage(message, transfer);
    });
  };
  return {
    async update(bytes) {
      if (bytes.byteLength === 0) return;
      if (bytes.buffer instanceof SharedArrayBuffer) {
        await request({ type: 'update', buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.byteLength });
      } else {
        // A fresh copy (Buffer#slice would share memory), handed over without a second copy.
        const copy = new Uint8Array(bytes.byteLength);
        copy.set(bytes);
        await request({ type: 'update', buffer: copy.buffer, offset: 0, length: copy.byteLength }, [copy.buffer]);
      }
    },
    async digest() {
      return `sha256:${String(await request({ type: 'digest' }))}`;
    },
    close() {
      if (closed) return;
      closed = true;
      void worker.terminate();
    },
  };
}
