/**
 * downloadBlob's transport (node:http) against real servers on 127.0.0.1:
 * the idle timeout, connection reuse, freeing the socket when the reader stops
 * early, and the short reasons reported for a retry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadBlob } from '../../../lambda/shared/image-mirror/download.js';
import { MirrorError } from '../../../lambda/shared/image-mirror/errors.js';

const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Served {
  readonly url: string;
  readonly ranges: Array<string | undefined>;
  /** Connections the server accepted. */
  readonly connections: () => number;
  /** Resolves when every connection accepted so far has closed. */
  readonly allClosed: () => Promise<void>;
}

let server: http.Server | undefined;
const stalled = new Set<http.ServerResponse>();

afterEach(async () => {
  for (const res of stalled) res.destroy();
  stalled.clear();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server whose answer to request n is decided by `respond(n, range, res)`. */
async function serve(respond: (n: number, range: string | undefined, res: http.ServerResponse) => void): Promise<Served> {
  const ranges: Array<string | undefined> = [];
  const closes: Array<Promise<unknown>> = [];
  server = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    respond(ranges.length, req.headers.range, res);
  });
  server.on('connection', (socket) => {
    closes.push(new Promise((resolve) => socket.once('close', resolve))); // not events.once: it rejects on 'error'
    socket.on('error', () => undefined); // a client that stops early resets the connection: expected
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob?X-Amz-Signature=s`,
    ranges,
    connections: () => closes.length,
    allClosed: async () => {
      await Promise.all(closes);
    },
  };
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of it) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('downloadBlob over node:http', () => {
  it('WHEN the body stalls past idleTimeoutMs THEN the attempt is retried with Range, reported as IDLE_TIMEOUT, and the blob arrives intact', async () => {
    const blob = randomBytes(40_000);
    const { url, ranges } = await serve((n, range, res) => {
      if (n === 1) {
        res.writeHead(200, { 'content-length': String(blob.byteLength) });
        res.write(blob.subarray(0, 15_000)); // then silence
        stalled.add(res);
        return;
      }
      const from = Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1]);
      res.writeHead(206, { 'content-range': `bytes ${from}-${blob.byteLength - 1}/${blob.byteLength}` }).end(blob.subarray(from));
    });
    const retries: Array<{ offset: number; attempt: number; reason: string }> = [];
    const started = Date.now();
    const got = await collect(
      downloadBlob({ digest: sha(blob), size: blob.byteLength, getUrl: async () => url, idleTimeoutMs: 200, retryDelayMs: 1, onRetry: (i) => retries.push(i) }),
    );
    expect(got.equals(blob)).toBe(true);
    expect(retries).toEqual([{ offset: 15_000, attempt: 1, reason: 'IDLE_TIMEOUT' }]);
    expect(ranges).toEqual([undefined, 'bytes=15000-']);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('WHEN the server never sends a head THEN each attempt ends at idleTimeoutMs and the run fails with DOWNLOAD_FAILED naming IDLE_TIMEOUT, not the URL', async () => {
    const served = await serve((_n, _r, res) => {
      stalled.add(res);
    });
    const started = Date.now();
    const err = await collect(
      downloadBlob({ digest: `sha256:${'a'.repeat(64)}`, size: 10, getUrl: async () => served.url, idleTimeoutMs: 150, maxRetries: 1, retryDelayMs: 1 }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MirrorError);
    expect((err as MirrorError).code).toBe('DOWNLOAD_FAILED');
    expect((err as Error).message).toBe(
      'downloading blob sha256:aaaaaaaaaaaa from the vendor registry failed 2 times in a row at byte 0 of 10 (IDLE_TIMEOUT)',
    );
    expect((err as Error).message).not.toContain('X-Amz-Signature');
    expect(served.ranges).toHaveLength(2);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('WHEN the connection is reset mid-body THEN the retry reason is ECONNRESET and the download resumes from the bytes received', async () => {
    const blob = randomBytes(30_000);
    const { url, ranges } = await serve((n, range, res) => {
      if (n === 1) {
        res.writeHead(200, { 'content-length': String(blob.byteLength) });
        res.write(blob.subarray(0, 12_000), () => res.socket?.resetAndDestroy());
        return;
      }
      const from = Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1]);
      res.writeHead(206, { 'content-range': `bytes ${from}-${blob.byteLength - 1}/${blob.byteLength}` }).end(blob.subarray(from));
    });
    const retries: Array<{ offset: number; reason: string }> = [];
    const got = await collect(
      downloadBlob({ digest: sha(blob), size: blob.byteLength, getUrl: async () => url, retryDelayMs: 1, onRetry: ({ offset, reason }) => retries.push({ offset, reason }) }),
    );
    expect(got.equals(blob)).toBe(true);
    expect(retries).toEqual([{ offset: 12_000, reason: 'ECONNRESET' }]);
    expect(ranges).toEqual([undefined, 'bytes=12000-']);
  });

  it('WHEN the reader stops early THEN the socket is closed at once, before the server has sent the blob', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let finished = false;
    const served = await serve((_n, _r, res) => {
      res.writeHead(200, { 'content-length': String(total) });
      const chunk = Buffer.alloc(256 * 1024);
      const pump = (): void => {
        while (written < total) {
          written += chunk.byteLength;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end(() => (finished = true));
      };
      pump();
    });
    for await (const chunk of downloadBlob({ digest: `sha256:${'0'.repeat(64)}`, size: total, getUrl: async () => served.url })) {
      expect(chunk.byteLength).toBeGreaterThan(0);
      break;
    }
    await served.allClosed();
    expect(finished).toBe(false);
    expect(written).toBeLessThan(total / 2);
  });

  it('WHEN a 503 body is left unread THEN its socket is still freed, so a one-socket pool can retry', async () => {
    const blob = randomBytes(2_000);
    const served = await serve((n, _r, res) => {
      if (n === 1) res.writeHead(503, { 'content-length': '5' }).end('busy!');
      else res.writeHead(200, { 'content-length': String(blob.byteLength) }).end(blob);
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const retries: string[] = [];
    const started = Date.now();
    try {
      const got = await collect(
        downloadBlob({ digest: sha(blob), size: blob.byteLength, getUrl: async () => served.url, agent, idleTimeoutMs: 1_000, retryDelayMs: 1, onRetry: (i) => retries.push(i.reason) }),
      );
      expect(got.equals(blob)).toBe(true);
      expect(retries).toEqual(['HTTP 503']);
      expect(served.ranges).toHaveLength(2);
      // Not held until the 1 s idle timeout frees it.
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      agent.destroy();
    }
  });

  it('WHEN given a keep-alive agent THEN consecutive blobs read to the end reuse one connection', async () => {
    const blobs = [randomBytes(5_000), randomBytes(7_000)];
    const served = await serve((n, _r, res) => {
      const blob = blobs[n - 1]!;
      res.writeHead(200, { 'content-length': String(blob.byteLength) }).end(blob);
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const blob of blobs) {
        const got = await collect(downloadBlob({ digest: sha(blob), size: blob.byteLength, getUrl: async () => served.url, agent }));
        expect(got.equals(blob)).toBe(true);
      }
      expect(served.connections()).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});
