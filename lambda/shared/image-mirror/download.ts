/**
 * Streams one blob from a pre-signed URL, resuming a broken download with an
 * HTTP `Range: bytes=<offset>-` request on a fresh pre-signed URL. Pre-signed
 * URLs carry a signature: they never reach a log line or an error message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
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
  /** undici dispatcher (tests, benchmarks); the global one by default. */
  readonly dispatcher?: Dispatcher;
}

const RETRY_RESET_BYTES = 1024 * 1024;

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
      const res = await request(url, {
        method: 'GET',
        headers,
        headersTimeout: idleTimeoutMs,
        bodyTimeout: idleTimeoutMs,
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      });
      let skip = 0;
      try {
        const status = res.statusCode;
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
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
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
        // Free the socket whether we finished, failed, or the consumer stopped early
        // (destroying an unfinished undici body emits an abort error: expected here).
        if (!res.body.destroyed) {
          res.body.on('error', () => undefined);
          res.body.destroy();
        }
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
