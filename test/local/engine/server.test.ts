import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDING_DIMENSION } from '../../../local/engine/engine.js';
import { loadEngineScoreTable } from '../../../local/engine/score.js';
import { startEngineServer, type EngineServer } from '../../../local/engine/server.js';
import { fakeJpeg, greyPng, sample } from './samples.js';

const DETECT = '/v1/face-verification/detect-faces';
const EMBED = '/v1/face-verification/get-face-embeddings';
const COMPARE = '/v1/face-verification/compare-face-embeddings';

let server: EngineServer;
const loggedErrors: string[] = [];
const sample1 = sample(1).toString('base64');

beforeAll(async () => {
  server = await startEngineServer({ logError: (line) => loggedErrors.push(line) });
  await server.engine.ready;
});

afterAll(async () => {
  await server?.close();
});

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts an RFC 9457 problem response and returns its body. */
async function expectProblem(res: Response, status: number, kind: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as { type: string; title: string; status: number; detail: string; requestId: string; errors?: { field: string; reason: string }[] };
  expect(body).toMatchObject({ type: `urn:face-verification:problem:${kind}`, status });
  expect(body.title.length).toBeGreaterThan(0);
  expect(body.detail.length).toBeGreaterThan(0);
  expect(body.requestId).toBe(res.headers.get('x-request-id'));
  return body;
}

describe('engine server: contract endpoints', () => {
  it('serves health and the swagger page that health checks probe', async () => {
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const swagger = await fetch(`${server.url}/swagger/index.html`);
    expect(swagger.status).toBe(200);
    expect(swagger.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await swagger.text()).toContain('<html');
  });

  it('answers a request target the URL parser refuses (`//`) with a 404 problem, not a 500', async () => {
    const { port } = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '//' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(404);
  });

  it('detect-faces answers faces and unprocessedFaceCount, maxFaceCount defaulting to 1', async () => {
    const all = await post(DETECT, { image: { bytes: sample1 }, maxFaceCount: 10 });
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await all.json()) as { faces: { confidence: number; boundingBox: Record<string, number> }[]; unprocessedFaceCount: number };
    expect(body.faces).toHaveLength(3);
    expect(body.unprocessedFaceCount).toBe(0);
    expect(Object.keys(body.faces[0]!.boundingBox).sort()).toEqual(['height', 'width', 'x', 'y']);

    const byDefault = await post(DETECT, { image: { bytes: sample1, url: null } });
    expect(await byDefault.json()).toEqual({ faces: [body.faces[0]], unprocessedFaceCount: 2 });
  });

  it('get-face-embeddings and compare-face-embeddings work together', async () => {
    const res = await post(EMBED, { image: { bytes: sample1 }, maxFaceCount: 2 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { faces: { face: { confidence: number; boundingBox: object }; embedding: number[] }[]; unprocessedFaceCount: number };
    expect(body.unprocessedFaceCount).toBe(1);
    expect(body.faces).toHaveLength(2);
    expect(body.faces[0]!.face.confidence).toBeGreaterThan(0.5);
    const [e0, e1] = body.faces.map((f) => f.embedding);
    expect(e0).toHaveLength(EMBEDDING_DIMENSION);

    const compare = async (embedding1: number[], embedding2: number[]) => {
      const r = await post(COMPARE, { embedding1, embedding2 });
      expect(r.status).toBe(200);
      return ((await r.json()) as { similarity: number }).similarity;
    };
    expect(await compare(e0!, e0!)).toBe(100);
    const different = await compare(e0!, e1!);
    expect(Number.isInteger(different)).toBe(true);
    expect(different).toBeGreaterThanOrEqual(0);
    expect(different).toBeLessThan(70);
    expect(await compare(new Array(EMBEDDING_DIMENSION).fill(0), e0!)).toBe(-1);
  });

  it("compares embeddings of any length, as the vendor guide's 3-number example (the table has no dimension)", async () => {
    const res = await post(COMPARE, { embedding1: [0.123, -0.456, 0.789], embedding2: [0.125, -0.45, 0.792] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ similarity: 100 });
    const orthogonal = await post(COMPARE, { embedding1: [1, 0, 0, 0, 0], embedding2: [0, 0, 0, 0, 1] });
    expect(await orthogonal.json()).toEqual({ similarity: 0 });
  });

  it('answers 200 with no faces for an image without one', async () => {
    const res = await post(EMBED, { image: { bytes: (await greyPng(200, 150)).toString('base64') }, maxFaceCount: 5 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ faces: [], unprocessedFaceCount: 0 });
  });
});

describe('engine server: client errors are 4xx problems', () => {
  it('400 invalid-json for a body that is not JSON, and for an empty body a validation error', async () => {
    await expectProblem(await post(DETECT, '{"image": {"bytes": '), 400, 'invalid-json');
    await expectProblem(await post(DETECT, ''), 400, 'validation-error');
  });

  it('400 validation-error naming the field: missing image, bad base64, not JPEG/PNG, url, maxFaceCount', async () => {
    const cases: [unknown, string][] = [
      [{ maxFaceCount: 1 }, 'image'],
      [{ image: { bytes: 'not base64!' } }, 'image.bytes'],
      [{ image: { bytes: Buffer.from('GIF89a\x01\x00\x01\x00').toString('base64') } }, 'image.bytes'],
      [{ image: { url: 'https://example.com/face.jpg' } }, 'image.url'],
      [{ image: { bytes: sample1 }, maxFaceCount: 11 }, 'maxFaceCount'],
      [[1, 2, 3], '(body)'],
    ];
    for (const [body, field] of cases) {
      const problem = await expectProblem(await post(DETECT, body), 400, 'validation-error');
      expect(problem.errors?.map((e) => e.field)).toContain(field);
    }
  });

  it('400 image-rejected for bytes with a JPEG signature that do not decode', async () => {
    const problem = await expectProblem(await post(EMBED, { image: { bytes: fakeJpeg().toString('base64') } }), 400, 'image-rejected');
    expect(problem.detail).toMatch(/image\.bytes/);
  });

  it('400 for compare embeddings of different lengths or with non-numbers', async () => {
    const e = new Array(128).fill(0.1);
    const mismatch = await expectProblem(await post(COMPARE, { embedding1: e, embedding2: e.slice(1) }), 400, 'validation-error');
    expect(mismatch.errors?.map((x) => x.field)).toContain('embedding2');
    await expectProblem(await post(COMPARE, { embedding1: e, embedding2: ['x', ...e.slice(1)] }), 400, 'validation-error');
    await expectProblem(await post(COMPARE, { embedding1: e }), 400, 'validation-error');
  });

  it('400 for another length when the score table has a dimension, as the gateway in table mode', async () => {
    const fixed = await startEngineServer({ engine: server.engine, scoreTable: { ...loadEngineScoreTable(), dimension: 128 } });
    try {
      const res = await fetch(fixed.url + COMPARE, { method: 'POST', body: JSON.stringify({ embedding1: [1, 2, 3], embedding2: [1, 2, 3] }) });
      const problem = await expectProblem(res, 400, 'validation-error');
      expect(problem.detail).toMatch(/must have 128 numbers.*got 3/);
      expect(problem.errors?.[0]?.field).toBe('embedding1');
    } finally {
      await fixed.close();
    }
  });

  it('400 for a zero vector when the score table says the backend refuses those', async () => {
    const refusing = await startEngineServer({ engine: server.engine, scoreTable: { ...loadEngineScoreTable(), zeroVector: 'refuse' } });
    try {
      const e = new Array(128).fill(0.1);
      const res = await fetch(refusing.url + COMPARE, { method: 'POST', body: JSON.stringify({ embedding1: e, embedding2: new Array(128).fill(0) }) });
      const problem = await expectProblem(res, 400, 'validation-error');
      expect(problem.errors?.[0]?.field).toBe('embedding2');
    } finally {
      await refusing.close();
    }
  });

  it('404 for an unknown path, 405 with Allow for a wrong method', async () => {
    await expectProblem(await fetch(`${server.url}/nope`), 404, 'not-found');
    await expectProblem(await post('/v1/face-verification/unknown', {}), 404, 'not-found');
    const get = await fetch(server.url + DETECT);
    expect(get.headers.get('allow')).toBe('POST');
    await expectProblem(get, 405, 'method-not-allowed');
    const postHealth = await post('/health', {});
    expect(postHealth.headers.get('allow')).toBe('GET, HEAD');
    await expectProblem(postHealth, 405, 'method-not-allowed');
  });

  it('413 for a body over 10 MiB, declared or streamed', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024 + 1, 0x20);
    await expectProblem(await post(DETECT, big.toString()), 413, 'payload-too-large');

    // Chunked, no Content-Length: refused while streaming.
    const streamed = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = http.request(`${server.url}${DETECT}`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < 12) {
          sent++;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    expect(streamed.status).toBe(413);
    expect(streamed.type).toBe('application/problem+json');
    expect(JSON.parse(streamed.body)).toMatchObject({ type: 'urn:face-verification:problem:payload-too-large' });
  });

  it('survived all of the above without a 5xx or a logged internal error', async () => {
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(loggedErrors).toEqual([]);
  });
});

describe('engine server: overload', () => {
  it('answers 503 with Retry-After: 1 once the waiting line is full, and 200 to the rest', async () => {
    const busy = await startEngineServer({ engineOptions: { maxWaiting: 1 } });
    try {
      await busy.engine.ready;
      const body = JSON.stringify({ image: { bytes: sample1 } });
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => fetch(busy.url + DETECT, { method: 'POST', headers: { 'content-type': 'application/json' }, body })),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
      const refused = responses.filter((r) => r.status === 503);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const r of refused) {
        expect(r.headers.get('retry-after')).toBe('1');
        await expectProblem(r, 503, 'service-unavailable');
      }
      await Promise.all(responses.filter((r) => r.status === 200).map((r) => r.json()));
    } finally {
      await busy.close();
    }
  });
});
