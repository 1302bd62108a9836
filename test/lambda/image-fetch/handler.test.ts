/**
 * The fetch-image Lambda handler over a real HTTP server on 127.0.0.1: its
 * result shape, and that its log lines never carry the URL or image bytes.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FetchImageEvent, FetchImageResult } from '../../../lambda/shared/image-fetch/index.js';

const JPEG = readFileSync(path.join(process.cwd(), 'node_modules/@vladmandic/face-api/demo/sample1.jpg'));
const SECRET = 'sig-Zx81TOPSECRETqQ';

type Handler = (event: FetchImageEvent) => Promise<FetchImageResult>;

let server: http.Server;
let origin: string;
let handler: Handler;
let written: string[];

/** Captures everything written to stdout/stderr (where Powertools Logger writes) while `fn` runs. */
async function capture<T>(fn: () => Promise<T>): Promise<T> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    return await fn();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The captured lines parsed as JSON log records. */
function logRecords(): Record<string, unknown>[] {
  return written
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function expectNothingSecretLogged(url: string): void {
  const all = written.join('');
  expect(all).not.toContain(SECRET);
  expect(all).not.toContain(url);
  expect(all).not.toContain(new URL(url).host);
  expect(all).not.toContain(JPEG.toString('base64').slice(0, 64));
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/face.jpg')) res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  vi.stubEnv('IMAGE_FETCH_ALLOW_CIDRS', '127.0.0.1/32');
  vi.stubEnv('IMAGE_FETCH_TIMEOUT_MS', '3000');
  vi.resetModules();
  ({ handler } = (await import('../../../lambda/fetch-image.js')) as { handler: Handler });
});

afterEach(() => {
  written = [];
});

afterAll(async () => {
  vi.unstubAllEnvs();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('fetch-image handler', () => {
  it('answers ok with base64 that decodes to the file, logging only outcome, size and duration', async () => {
    written = [];
    const url = `${origin}/face.jpg?${SECRET}=1&token=${SECRET}`;
    const result = await capture(() => handler({ url }));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.contentLength).toBe(JPEG.length);
    expect(Buffer.from(result.bytesBase64, 'base64').equals(JPEG)).toBe(true);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result); // JSON-serialisable as Lambda sends it
    const records = logRecords();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ level: 'INFO', service: 'fetch-image', message: 'image fetched', outcome: 'ok', contentLength: JPEG.length });
    expect(typeof records[0]?.durationMs).toBe('number');
    expectNothingSecretLogged(url);
  });

  it('answers ok:false with an image-url-rejected problem for a refused URL, logging the reason only', async () => {
    written = [];
    const url = `http://127.0.0.2:${new URL(origin).port}/face.jpg?token=${SECRET}`;
    const result = await capture(() => handler({ url }));
    expect(result).toEqual({
      ok: false,
      problem: { kind: 'image-url-rejected', detail: 'image.url points to a loopback address' },
    });
    const records = logRecords();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      message: 'image refused',
      outcome: 'refused',
      kind: 'image-url-rejected',
      reason: 'image.url points to a loopback address',
    });
    expectNothingSecretLogged(url);
  });

  it('answers ok:false with an image-fetch-failed problem for a 404', async () => {
    written = [];
    const url = `${origin}/missing.jpg?token=${SECRET}`;
    const result = await capture(() => handler({ url }));
    expect(result).toEqual({
      ok: false,
      problem: { kind: 'image-fetch-failed', detail: 'image.url answered with HTTP status 404' },
    });
    expectNothingSecretLogged(url);
  });

  it('never throws on a malformed event', async () => {
    written = [];
    for (const event of [{}, { url: 42 }, null] as unknown as FetchImageEvent[]) {
      const result = await capture(() => handler(event));
      expect(result).toEqual({ ok: false, problem: { kind: 'image-url-rejected', detail: 'image.url must be a string' } });
    }
  });

  it('fails at cold start on a malformed IMAGE_FETCH_ALLOW_CIDRS', async () => {
    vi.stubEnv('IMAGE_FETCH_ALLOW_CIDRS', '127.0.0.1/32,not-a-cidr');
    vi.resetModules();
    try {
      await expect(import('../../../lambda/fetch-image.js')).rejects.toThrow(
        "IMAGE_FETCH_ALLOW_CIDRS: 'not-a-cidr' is not a CIDR",
      );
    } finally {
      vi.stubEnv('IMAGE_FETCH_ALLOW_CIDRS', '127.0.0.1/32');
    }
  });
});
