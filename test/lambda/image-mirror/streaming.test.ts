/**
 * The streaming pieces on their own: part cutting (any chunking), backpressure,
 * the worker-thread hash, and resumable downloads against real local servers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadBlob } from '../../../lambda/shared/image-mirror/download.js';
import { MirrorError } from '../../../lambda/shared/image-mirror/errors.js';
import { createInlineSha256, createWorkerSha256 } from '../../../lambda/shared/image-mirror/hasher.js';
import { PartPipeline } from '../../../lambda/shared/image-mirror/parts.js';

const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('PartPipeline', () => {
  it('cuts any chunking of any blob into parts of exactly partSize (last one shorter), in order, using at most 2 buffers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 600 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 20 }),
        async (partSize, size, cuts) => {
          const blob = randomBytes(size);
          const parts: Array<{ bytes: Buffer; first: number; buffer: ArrayBufferLike }> = [];
          const hash = createInlineSha256();
          const pipeline = new PartPipeline({
            partSize,
            hash,
            sink: async (part, first) => {
              parts.push({ bytes: Buffer.from(part), first, buffer: part.buffer });
            },
          });
          for (let pos = 0, i = 0; pos < size; i++) {
            const n = Math.min(cuts[i % cuts.length]!, size - pos);
            await pipeline.write(blob.subarray(pos, pos + n));
            pos += n;
          }
          expect(await pipeline.end()).toBe(size);
          expect(await hash.digest()).toBe(sha(blob));
          expect(Buffer.concat(parts.map((p) => p.bytes)).equals(blob)).toBe(true);
          parts.forEach((p, i) => {
            expect(p.first).toBe(i * partSize);
            if (i < parts.length - 1) expect(p.bytes.byteLength).toBe(partSize);
          });
          expect(parts.at(-1)?.bytes.byteLength ?? 0).toBeLessThanOrEqual(partSize);
          expect(new Set(parts.map((p) => p.buffer)).size).toBeLessThanOrEqual(2);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('holds the download while both part buffers are in flight, and uploads one part at a time', async () => {
    const releases: Array<() => void> = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const pipeline = new PartPipeline({
      partSize: 10,
      hash: createInlineSha256(),
      sink: async () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await new Promise<void>((r) => releases.push(r));
        concurrent--;
      },
    });
    await pipeline.write(new Uint8Array(10)); // part 1 sent
    await pipeline.write(new Uint8Array(10)); // part 2 queued behind it, second buffer
    let thirdDone = false;
    const third = pipeline.write(new Uint8Array(5)).then(() => (thirdDone = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(thirdDone).toBe(false); // no free buffer: backpressure
    expect(releases).toHaveLength(1);
    releases.shift()!();
    await third;
    expect(thirdDone).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    releases.shift()!();
    const ended = pipeline.end();
    await new Promise((r) => setTimeout(r, 5));
    releases.shift()!();
    expect(await ended).toBe(25);
    expect(maxConcurrent).toBe(1);
  });

  it('stops at the first failed part upload and reports its error', async () => {
    let calls = 0;
    const pipeline = new PartPipeline({
      partSize: 4,
      hash: createInlineSha256(),
      sink: async (_part, first) => {
        calls++;
        if (first === 4) throw new Error('part 2 refused');
      },
    });
    const run = async (): Promise<void> => {
      for (let i = 0; i < 10; i++) await pipeline.write(new Uint8Array(4));
      await pipeline.end();
    };
    await expect(run()).rejects.toThrow('part 2 refused');
    await pipeline.settle();
    expect(calls).toBe(2);
  });
});

describe('worker-thread sha256', () => {
  it('gives the same digest as the inline hash for shared and ordinary buffers', async () => {
    const data = randomBytes(300_000);
    const shared = new Uint8Array(new SharedArrayBuffer(data.byteLength));
    shared.set(data);
    const worker = createWorkerSha256();
    try {
      await worker.update(shared.subarray(0, 100_000));
      await worker.update(data.subarray(100_000, 250_000));
      await worker.update(shared.subarray(250_000));
      expect(await worker.digest()).toBe(sha(data));
    } finally {
      worker.close();
    }
    const inline = createInlineSha256();
    await inline.update(data);
    expect(await inline.digest()).toBe(sha(data));
  });
});

describe('downloadBlob', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    server?.close();
    server = undefined;
  });

  /** A server whose answer to request n is decided by `respond(n, range)`. */
  async function serve(respond: (n: number, range: string | undefined, res: import('node:http').ServerResponse) => void): Promise<{ url: string; ranges: Array<string | undefined> }> {
    const ranges: Array<string | undefined> = [];
    server = createServer((req, res) => {
      ranges.push(req.headers.range);
      respond(ranges.length, req.headers.range, res);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob?X-Amz-Signature=s`, ranges };
  }

  async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    for await (const c of it) chunks.push(c);
    return Buffer.concat(chunks);
  }

  it('WHEN the server ignores Range on the retry THEN the bytes already received are skipped', async () => {
    const blob = randomBytes(50_000);
    const { url, ranges } = await serve((n, _range, res) => {
      res.writeHead(200, { 'content-length': String(blob.byteLength) });
      if (n === 1) {
        res.write(blob.subarray(0, 20_000), () => res.socket?.end(() => res.socket?.destroy()));
        return;
      }
      res.end(blob); // full body again, status 200
    });
    const got = await collect(downloadBlob({ digest: sha(blob), size: blob.byteLength, getUrl: async () => url, retryDelayMs: 1 }));
    expect(got.equals(blob)).toBe(true);
    expect(ranges).toEqual([undefined, 'bytes=20000-']);
  });

  it('WHEN the server sends more bytes than the manifest states THEN DIGEST_MISMATCH before the extra bytes are yielded', async () => {
    const { url } = await serve((_n, _r, res) => res.end(randomBytes(1000)));
    const received: number[] = [];
    const run = async (): Promise<void> => {
      for await (const c of downloadBlob({ digest: `sha256:${'0'.repeat(64)}`, size: 500, getUrl: async () => url })) received.push(c.byteLength);
    };
    const err = await run().catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('DIGEST_MISMATCH');
    expect(received.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(500);
  });

  it('WHEN the URL answers 404 THEN DOWNLOAD_FAILED at once; WHEN it answers 503 once THEN it is retried', async () => {
    const missing = await serve((_n, _r, res) => res.writeHead(404).end());
    const err = await collect(downloadBlob({ digest: `sha256:${'0'.repeat(64)}`, size: 10, getUrl: async () => missing.url, retryDelayMs: 1 })).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('DOWNLOAD_FAILED');
    expect((err as Error).message).toContain('HTTP 404');
    expect(missing.ranges).toHaveLength(1);
    server!.closeAllConnections();
    server!.close();

    const blob = randomBytes(100);
    let urls = 0;
    const flaky = await serve((n, _r, res) => (n === 1 ? res.writeHead(503).end() : res.end(blob)));
    const got = await collect(downloadBlob({ digest: sha(blob), size: 100, getUrl: async () => (urls++, flaky.url), retryDelayMs: 1 }));
    expect(got.equals(blob)).toBe(true);
    expect(urls).toBe(2); // a fresh pre-signed URL for the retry
  });
});
