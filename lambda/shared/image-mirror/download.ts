/**
 * Streams one blob from a pre-signed URL, resuming a broken download with an
 * HTTP `Range: bytes=<offset>-` request on a fresh pre-signed URL. Pre-signed
 * URLs carry a signature: they never reach a log line or an error message.
 * On node:http/node:https (not undici) to keep the Lambda bundle small.
 */
import type { Agent, IncomingMessage } from 'node:http';
import { http, https } from '../node-http.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { MirrorError, systemErrorCode } from './errors.js';
import { shortDigest } from './manifest.js';

/** Options for {@link downloadBlob}. */
export interface DownloadOptions {
  /** Blob digest, for messages. */
  readonly digest: string;
  /** Expected size in bytes (from the manifest descriptor). */
  readonly size: number;
  /** Returns a pre-signed URL for the blob; called again before each retry (URLs expire). */
  readonly getUrl: () => Promise<string>;
  /**
   * Retries in a row after a broken or failed download, each resuming where the
   * last stopped; an attempt that got at least 1 MiB further resets the count.
   * @default 5
   */
  readonly maxRetries?: number;
  /**
   * First back-off delay; doubles with each retry.
   * @default 500
   */
  readonly retryDelayMs?: number;
  /**
   * Longest silence while waiting for headers or body bytes before the attempt counts as broken.
   * @default 60000
   */
  readonly idleTimeoutMs?: number;
  /** Told about each retry (offset reached, attempt number, short reason). */
  readonly onRetry?: (info: { offset: number; attempt: number; reason: string }) => void;
  /**
   * Connection pool for the URL's scheme (tests, benchmarks).
   * @default Node's global keep-alive agent for http or https
   */
  readonly agent?: Agent;
}

const RETRY_RESET_BYTES = 1024 * 1024;
/** TCP (and TLS) connect limit per attempt: 10 s, undici's default, which this module used before node:http. */
const CONNECT_TIMEOUT_MS = 10_000;

class RetriableDownloadError extends Error {
  override readonly name = 'RetriableDownloadError';
}

/** A short reason for a failed attempt that cannot leak the URL. */
function reasonOf(err: unknown): string {
  if (err instanceof RetriableDownloadError) return err.message;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  return systemErrorCode(err) ?? (err as Error)?.name ?? 'error';
}

/**
 * Sends one GET and resolves with the response head. `idleTimeoutMs` is the
 * socket's idle timeout, so it bounds every silence: waiting for the head and
 * between body bytes; connecting has its own {@link CONNECT_TIMEOUT_MS}.
 * Errors carry only a code (`IDLE_TIMEOUT`, `CONNECT_TIMEOUT`, ECONNRESET,
 * ...), never the URL.
 */
function get(url: string, headers: Record<string, string>, idleTimeoutMs: number, agent: Agent | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    const req = transport.request(target, { method: 'GET', headers, ...(agent ? { agent } : {}) });
    let response: IncomingMessage | undefined;
    req.once('socket', (socket) => {
      if (!socket.connecting) return; // a pooled keep-alive socket
      const timer = setTimeout(() => {
        req.destroy(Object.assign(new Error(`not connected within ${CONNECT_TIMEOUT_MS} ms`), { code: 'CONNECT_TIMEOUT' }));
      }, CONNECT_TIMEOUT_MS);
      socket.once(transport === https ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    req.setTimeout(idleTimeoutMs, () => {
      const err = Object.assign(new Error(`no bytes for ${idleTimeoutMs} ms`), { code: 'IDLE_TIMEOUT' });
      response?.destroy(err); // mid-body: the reader sees this error, not the socket's reset
      req.destroy(err);
    });
    req.once('response', (res) => {
      response = res;
      // A late 'error' (the response destroyed after we stopped reading) needs no handling;
      // errors while reading reach the async iterator.
      res.on('error', () => undefined);
      resolve(res);
    });
    // Stays attached, so an error after the head is not an unhandled 'error' event;
    // it reaches the reader through the response.
    req.on('error', reject);
    req.end();
  });
}

/**
 * Yields the blob's bytes in order, exactly `size` of them. A connection cut
 * mid-stream, an early end, a 5xx, 403 (expired URL), 408 or 429 is retried up
 * to `maxRetries` times from the offset already received.
 * @throws MirrorError DOWNLOAD_FAILED when retries run out or the server answers
 *   another status; DIGEST_MISMATCH when the server sends more than `size` bytes.
 */
export async function* downloadBlob(options: DownloadOptions): AsyncGenerator<Uint8Array, void, void> {
  const { size, digest } = options;
  const maxRetries = options.maxRetries ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  let offset = 0;
  let attempt = 0;
  let offsetAtLastFailure = 0;
  let url = await options.getUrl();

  for (;;) {
    try {
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const res = await get(url, headers, idleTimeoutMs, options.agent);
      let skip = 0;
      try {
        const status = res.statusCode ?? 0;
        if (status === 403 || status === 408 || status === 429 || status >= 500) {
          throw new RetriableDownloadError(`HTTP ${status}`);
        }
        if (offset > 0 && status === 206) {
          const start = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
          if (!start || Number(start[1]) !== offset) throw new RetriableDownloadError('unexpected Content-Range');
        } else if (status === 200) {
          skip = offset; // the server ignored Range: drop what we already have
        } else {
          throw new MirrorError('DOWNLOAD_FAILED', `downloading blob ${shortDigest(digest)} from the vendor registry answered HTTP ${status}`);
        }
        for await (const chunk of res as AsyncIterable<Buffer>) {
          let bytes: Uint8Array = chunk;
          if (skip > 0) {
            const dropped = Math.min(skip, bytes.byteLength);
            skip -= dropped;
            bytes = bytes.subarray(dropped);
            if (bytes.byteLength === 0) continue;
          }
          if (offset + bytes.byteLength > size) {
            throw new MirrorError(
              'DIGEST_MISMATCH',
              `blob ${shortDigest(digest)} from the vendor registry is longer than the ${size} bytes its manifest states; nothing was published`,
            );
          }
          offset += bytes.byteLength;
          yield bytes;
        }
        if (offset < size) throw new RetriableDownloadError(`connection ended at byte ${offset} of ${size}`);
        return;
      } finally {
        // Free the socket whether we finished, failed, or the consumer stopped early:
        // a response read to its end has already handed its socket back to the pool;
        // one not read to its end is destroyed with its socket (never reused half-read).
        if (!res.readableEnded) res.destroy();
      }
    } catch (err) {
      if (err instanceof MirrorError) throw err;
      // The budget is for failures in a row: an attempt that moved the download
      // on by at least RETRY_RESET_BYTES starts a fresh count (a large layer may
      // see a few unrelated resets), while a server that keeps cutting early does not.
      attempt = offset - offsetAtLastFailure >= RETRY_RESET_BYTES ? 1 : attempt + 1;
      offsetAtLastFailure = offset;
      const reason = reasonOf(err);
      if (attempt > maxRetries) {
        throw new MirrorError(
          'DOWNLOAD_FAILED',
          `downloading blob ${shortDigest(digest)} from the vendor registry failed ${maxRetries + 1} times in a row at byte ${offset} of ${size} (${reason})`,
        );
      }
      options.onRetry?.({ offset, attempt, reason });
      await sleep(retryDelayMs * 2 ** (attempt - 1));
      url = await options.getUrl();
    }
  }
}
