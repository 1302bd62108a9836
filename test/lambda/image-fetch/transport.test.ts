/**
 * The fetcher's transport (node:http) against real servers on 127.0.0.1:
 * request headers, one connection per hop closed afterwards, how transport
 * failures read, and one deadline shared by DNS and every redirect hop.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImageFetcher, type ImageFetchConfig } from '../../../lambda/shared/image-fetch/index.js';
import { failure } from '../../helpers/errors.js';

const JPEG = readFileSync(path.join(process.cwd(), 'node_modules/@vladmandic/face-api/demo/sample1.jpg'));

let server: http.Server;
let origin: string;
const headers: http.IncomingHttpHeaders[] = [];
const sockets: Socket[] = [];
const closed = new Set<Socket>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    headers.push(req.headers);
    const url = new URL(req.url ?? '/', 'http://x');
    const delay = Number(url.searchParams.get('delay') ?? 0);
    setTimeout(() => {
      if (url.pathname === '/img.jpg') {
        res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG);
      } else if (url.pathname === '/cut') {
        // Declares the whole image, sends a part, then resets the connection.
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(JPEG.length) });
        res.write(JPEG.subarray(0, 1000), () => res.socket?.resetAndDestroy());
      } else if (url.pathname === '/slow-chain') {
        const n = Number(url.searchParams.get('n'));
        if (n > 0) res.writeHead(302, { location: `/slow-chain?n=${n - 1}&delay=${delay}` }).end();
        else res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG);
      } else {
        res.writeHead(404).end();
      }
    }, delay);
  });
  server.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => closed.add(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  headers.length = 0;
  sockets.length = 0;
  closed.clear();
});

function fetcher(config: Partial<ImageFetchConfig> = {}) {
  return createImageFetcher({ allowCidrs: ['127.0.0.1/32'], totalTimeoutMs: 5_000, ...config });
}


const until = async (check: () => boolean, ms = 1_000): Promise<void> => {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
};

describe('requests', () => {
  it('ask for the raw image bytes and close their connection, one per fetch (no pooling across URLs)', async () => {
    const f = fetcher();
    expect((await f.fetch(`${origin}/img.jpg`)).equals(JPEG)).toBe(true);
    expect((await f.fetch(`${origin}/img.jpg`)).equals(JPEG)).toBe(true);
    expect(headers).toHaveLength(2);
    for (const h of headers) {
      expect(h['accept-encoding']).toBe('identity');
      expect(h.accept).toBe('image/jpeg, image/png');
      expect(h.connection).toBe('close');
    }
    expect(sockets).toHaveLength(2);
    await until(() => closed.size === 2);
    expect(closed.size).toBe(2);
  });
});

describe('transport failures', () => {
  it('report a connection reset mid-body by its code only', async () => {
    const err = await failure(fetcher().fetch(`${origin}/cut?token=s3cr3t`));
    expect(err.kind).toBe('image-fetch-failed');
    expect(err.message).toBe('image.url could not be downloaded (ECONNRESET)');
  });

  it('report a refused connection by its code only', async () => {
    const closedServer = http.createServer();
    await new Promise<void>((resolve) => closedServer.listen(0, '127.0.0.1', resolve));
    const { port } = closedServer.address() as AddressInfo;
    await new Promise<void>((resolve) => closedServer.close(() => resolve()));
    const err = await failure(fetcher().fetch(`http://127.0.0.1:${port}/img.jpg`));
    expect(err.kind).toBe('image-fetch-failed');
    expect(err.message).toBe('image.url could not be downloaded (ECONNREFUSED)');
  });
});

describe('the total deadline', () => {
  it('covers name resolution', async () => {
    const lookup = () => new Promise<never>(() => undefined); // a resolver that never answers
    const started = Date.now();
    const err = await failure(fetcher({ lookup, totalTimeoutMs: 300 }).fetch('http://images.test/img.jpg'));
    expect(err.message).toBe('image.url did not finish downloading within 300 ms');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('is shared by every redirect hop: hops that each fit in it still fail together', async () => {
    // Each hop answers after 150 ms; 3 redirects + the image = 600 ms > 400 ms.
    const f = fetcher({ totalTimeoutMs: 400 });
    expect((await f.fetch(`${origin}/slow-chain?n=1&delay=150`)).equals(JPEG)).toBe(true);
    const started = Date.now();
    const err = await failure(f.fetch(`${origin}/slow-chain?n=3&delay=150`));
    expect(err.message).toBe('image.url did not finish downloading within 400 ms');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(1_500);
    expect(headers.length).toBeLessThan(2 + 4); // the second chain never gets to request its image
  });
});
