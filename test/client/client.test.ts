/**
 * The typed client against the real local gateway (`npm start`'s code, embedded engine, sample
 * photos from @vladmandic/face-api): success of the vendor's three operations, 400/401/413/429 and
 * a stopped server. Retry, timeout and unusual answers are scripted with a fake server on 127.0.0.1.
 * Every error is checked for the API key or token: none may carry it.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FaceVerificationClient,
  FaceVerificationClientError,
  FaceVerificationError,
  FaceVerificationNetworkError,
  FaceVerificationResponseError,
  FaceVerificationTimeoutError,
  imageFromBuffer,
  imageFromFile,
  imageFromUrl,
  parseRetryAfter,
  type RetryInfo,
} from '../../client/node.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample, samplePath } from '../helpers/images.js';
import { EMBEDDING_DIMENSION } from '../../local/engine/engine.js';

const KEY = 'client-test-key-0123456789abcdef';

/** Every string form of an error: none may contain a secret. */
function stringForms(error: unknown): string {
  return [String(error), (error as Error).message, (error as Error).stack, JSON.stringify(error), inspect(error, { depth: 6, showHidden: true })].join('\n');
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('client against the real gateway (vendor operations)', () => {
  let gw: TestGateway;
  let client: FaceVerificationClient;

  beforeAll(async () => {
    gw = await startTestGateway({ API_KEYS: KEY });
    client = new FaceVerificationClient({ baseUrl: gw.url, apiKey: KEY });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('GIVEN a photo file WHEN detectFaces with maxFaceCount 10 THEN the faces come back typed, largest first', async () => {
    const answer = await client.detectFaces({ image: await imageFromFile(samplePath(1)), maxFaceCount: 10 });
    expect(answer.faces!.length).toBeGreaterThanOrEqual(2);
    expect(answer.unprocessedFaceCount).toBe(0);
    const areas = answer.faces!.map((f) => f.boundingBox.width * f.boundingBox.height);
    expect([...areas].sort((a, b) => b - a)).toEqual(areas);
    // Without maxFaceCount the API's default (1) applies: the same largest face.
    const one = await client.detectFaces({ image: imageFromBuffer(sample(1)) });
    expect(one.faces).toEqual([answer.faces![0]]);
    expect(one.unprocessedFaceCount).toBe(answer.faces!.length - 1);
  });

  it('GIVEN two photos WHEN getFaceEmbeddings then compareFaceEmbeddings THEN the same face scores 100 and another person less', async () => {
    const [a, b] = await Promise.all([client.getFaceEmbeddings({ image: imageFromBuffer(sample(2)) }), client.getFaceEmbeddings({ image: imageFromBuffer(sample(3)) })]);
    const ea = a.faces![0]!.embedding!;
    const eb = b.faces![0]!.embedding!;
    expect(ea.length).toBe(EMBEDDING_DIMENSION);
    expect((await client.compareFaceEmbeddings({ embedding1: ea, embedding2: ea })).similarity).toBe(100);
    const other = (await client.compareFaceEmbeddings({ embedding1: ea, embedding2: eb })).similarity;
    expect(Number.isInteger(other)).toBe(true);
    expect(other).toBeLessThan(100);
  });

  it('GIVEN a file that is not an image WHEN detectFaces THEN a FaceVerificationError carries the 400 problem: type, field errors, request id', async () => {
    const error = (await caught(client.detectFaces({ image: imageFromBuffer(Buffer.from('{"not":"an image"}')) }))) as FaceVerificationError;
    expect(error).toBeInstanceOf(FaceVerificationError);
    expect(error).toBeInstanceOf(FaceVerificationClientError);
    expect(error.status).toBe(400);
    expect(error.type).toBe('urn:face-verification:problem:validation-error');
    expect(error.title).toBe('The request is not valid');
    expect(error.errors).toEqual([{ field: 'image.bytes', reason: expect.stringMatching(/JPEG or PNG/) }]);
    expect(error.detail).toMatch(/^image\.bytes: /);
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The request id is the one the gateway logged for this request.
    expect(gw.logs.some((line) => line.includes(error.requestId!) && line.includes('"status":400'))).toBe(true);
    expect(error.message).toContain(error.requestId!);
    expect(error.toProblem()).toMatchObject({ status: 400, type: error.type, errors: error.errors });
  });

  it('GIVEN maxFaceCount 11 WHEN detectFaces THEN the 400 names maxFaceCount', async () => {
    const error = (await caught(client.detectFaces({ image: imageFromBuffer(sample(1)), maxFaceCount: 11 }))) as FaceVerificationError;
    expect(error.status).toBe(400);
    expect(error.errors.map((e) => e.field)).toEqual(['maxFaceCount']);
  });

  it('GIVEN a wrong key, or none WHEN called THEN a 401 problem, and the key is in no form of the error', async () => {
    const wrongKey = 'wrong-key-SECRET-9f8e7d6c5b4a';
    const wrong = new FaceVerificationClient({ baseUrl: gw.url, apiKey: wrongKey });
    const error = (await caught(wrong.compareFaceEmbeddings({ embedding1: [1, 2], embedding2: [1, 2] }))) as FaceVerificationError;
    expect(error).toBeInstanceOf(FaceVerificationError);
    expect(error.status).toBe(401);
    expect(error.type).toBe('urn:face-verification:problem:unauthorized');
    expect(stringForms(error)).not.toContain('SECRET');
    expect(inspect(wrong, { depth: 4, showHidden: true })).not.toContain('SECRET');
    const none = (await caught(new FaceVerificationClient({ baseUrl: gw.url }).compareFaceEmbeddings({ embedding1: [1], embedding2: [1] }))) as FaceVerificationError;
    expect(none.status).toBe(401);
  });

  it('GIVEN an image over the 6 MB Lambda payload limit, and a body over API Gateway\'s 10 MB WHEN sent THEN 413 problems', async () => {
    const big = (await caught(client.detectFaces({ image: imageFromBuffer(randomBytes(5 * 1024 * 1024)) }))) as FaceVerificationError;
    expect(big).toBeInstanceOf(FaceVerificationError);
    expect(big.status).toBe(413);
    expect(big.type).toBe('urn:face-verification:problem:payload-too-large');
    const huge = (await caught(client.detectFaces({ image: imageFromBuffer(randomBytes(8 * 1024 * 1024)) }))) as FaceVerificationError;
    expect(huge).toBeInstanceOf(FaceVerificationError);
    expect(huge.status).toBe(413);
    expect(huge.detail).toMatch(/10485760 bytes/);
  });
});

describe('client against a rate-limited gateway (429 + Retry-After)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ API_KEYS: KEY, RATE_LIMIT_RPS: '1', RATE_LIMIT_BURST: '1' });
  });
  afterAll(async () => {
    await gw?.close();
  });
  const statuses = () => gw.logs.map((line) => JSON.parse(line)).filter((l) => l.msg === 'request').map((l) => l.status as number);

  it('GIVEN the key\'s one token spent WHEN the next call gets 429 THEN the client waits at least Retry-After and the retry succeeds', async () => {
    const retries: RetryInfo[] = [];
    const client = new FaceVerificationClient({ baseUrl: gw.url, apiKey: KEY, maxRetries: 3, onRetry: (info) => retries.push(info) });
    const body = { embedding1: [1, 0, 0], embedding2: [1, 0, 0] };
    expect((await client.compareFaceEmbeddings(body)).similarity).toBe(100);
    const before = statuses().length;
    const started = performance.now();
    expect((await client.compareFaceEmbeddings(body)).similarity).toBe(100);
    const elapsed = performance.now() - started;

    expect(retries.length).toBeGreaterThanOrEqual(1);
    for (const retry of retries) {
      expect(retry.status).toBe(429);
      expect(retry.retryAfterMs).toBe(1000);
      expect(retry.delayMs).toBeGreaterThanOrEqual(retry.retryAfterMs!);
      expect(retry.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Only a lower bound: the retry came no sooner than the server asked.
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(statuses().slice(before)).toEqual([...retries.map(() => 429), 200]);
  });

  it('GIVEN retries turned off for one call WHEN refused THEN the 429 is thrown with its Retry-After', async () => {
    const client = new FaceVerificationClient({ baseUrl: gw.url, apiKey: KEY });
    const body = { embedding1: [1], embedding2: [1] };
    const results = await Promise.allSettled([client.compareFaceEmbeddings(body, { maxRetries: 0 }), client.compareFaceEmbeddings(body, { maxRetries: 0 })]);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused).toBeDefined();
    expect(refused.reason).toBeInstanceOf(FaceVerificationError);
    expect(refused.reason).toMatchObject({ status: 429, type: 'urn:face-verification:problem:too-many-requests', retryAfterMs: 1000 });
  });
});

describe('client against a stopped server', () => {
  it('GIVEN nothing listening on the port WHEN called THEN a FaceVerificationNetworkError saying the connection was refused, not retried', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const retries: RetryInfo[] = [];
    const client = new FaceVerificationClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEY, onRetry: (r) => retries.push(r) });
    const error = (await caught(client.compareFaceEmbeddings({ embedding1: [1], embedding2: [1] }))) as FaceVerificationNetworkError;
    expect(error).toBeInstanceOf(FaceVerificationNetworkError);
    expect(error.code).toBe('ECONNREFUSED');
    expect(error.message).toBe(`could not reach http://127.0.0.1:${port} (compareFaceEmbeddings): connection refused (is the server running?)`);
    expect(retries).toEqual([]);
    expect(stringForms(error)).not.toContain(KEY);
  });
});

describe('client behaviour with a scripted server', () => {
  let fake: FakeBackend;
  beforeAll(async () => {
    fake = await startFakeBackend();
  });
  afterAll(async () => {
    await fake?.close();
  });
  const problem = (status: number, kind: string) => ({ type: `urn:face-verification:problem:${kind}`, title: kind, status, detail: `${kind} detail` });
  /** Answers the scripted statuses in turn, then 200 with `ok`. */
  function sequence(steps: Array<{ status: number; headers?: Record<string, string>; body?: unknown }>, ok: unknown) {
    let i = 0;
    fake.behave((_req, _body, res) => {
      const step = steps[i++];
      if (!step) return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ok));
      res.writeHead(step.status, { 'content-type': 'application/problem+json', ...step.headers }).end(JSON.stringify(step.body ?? problem(step.status, 'x')));
    });
  }

  it('GIVEN an API key or a bearer token and a stage path THEN the Authorization scheme and the path are right', async () => {
    fake.behave(answerJson(200, { similarity: 7 }));
    fake.received.length = 0;
    await new FaceVerificationClient({ baseUrl: `${fake.url}/prod`, apiKey: 'k-1' }).compareFaceEmbeddings({ embedding1: [1], embedding2: [2] });
    await new FaceVerificationClient({ baseUrl: `${fake.url}/prod/`, bearerToken: 'eyJ.t.k' }).compareFaceEmbeddings({ embedding1: [1], embedding2: [2] });
    expect(fake.received.map((r) => [r.path, r.headers.authorization, r.headers['content-type']])).toEqual([
      ['/prod/v1/face-verification/compare-face-embeddings', 'ApiKey k-1', 'application/json'],
      ['/prod/v1/face-verification/compare-face-embeddings', 'Bearer eyJ.t.k', 'application/json'],
    ]);
    expect(fake.received[0]!.body).toEqual({ embedding1: [1], embedding2: [2] });
  });

  it('GIVEN 503 twice without Retry-After WHEN called THEN it backs off exponentially with jitter and succeeds on the third attempt', async () => {
    sequence([{ status: 503 }, { status: 503 }], { similarity: 42 });
    fake.received.length = 0;
    const retries: RetryInfo[] = [];
    const client = new FaceVerificationClient({ baseUrl: fake.url, retryBaseDelayMs: 100, onRetry: (r) => retries.push(r) });
    expect(await client.compareFaceEmbeddings({ embedding1: [1], embedding2: [1] })).toEqual({ similarity: 42 });
    expect(fake.received).toHaveLength(3);
    expect(retries.map((r) => [r.attempt, r.status])).toEqual([[1, 503], [2, 503]]);
    // Equal jitter: step/2 <= delay <= step, the step doubling per retry (100, 200).
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(50);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(100);
    expect(retries[1]!.delayMs).toBeGreaterThanOrEqual(100);
    expect(retries[1]!.delayMs).toBeLessThanOrEqual(200);
  });

  it('GIVEN 503 more often than maxRetries WHEN called THEN the last 503 is thrown after maxRetries + 1 attempts', async () => {
    sequence([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }], { similarity: 1 });
    fake.received.length = 0;
    const error = await caught(new FaceVerificationClient({ baseUrl: fake.url, retryBaseDelayMs: 10, maxRetries: 2 }).compareFaceEmbeddings({ embedding1: [1], embedding2: [1] }));
    expect(error).toMatchObject({ status: 503 });
    expect(fake.received).toHaveLength(3);
  });

  it.each([400, 401, 404, 500, 502, 504])('GIVEN a %i WHEN called THEN it is not retried', async (status) => {
    sequence([{ status }], { similarity: 1 });
    fake.received.length = 0;
    const error = await caught(new FaceVerificationClient({ baseUrl: fake.url, retryBaseDelayMs: 1 }).compareFaceEmbeddings({ embedding1: [1], embedding2: [1] }));
    expect(error).toBeInstanceOf(FaceVerificationError);
    expect(error).toMatchObject({ status, detail: 'x detail' });
    expect(fake.received).toHaveLength(1);
  });

  it('GIVEN a 429 whose Retry-After is an HTTP date WHEN called THEN the client waits until then', async () => {
    const retries: RetryInfo[] = [];
    // HTTP dates have whole seconds: 3 s ahead is at least 2 s from now.
    sequence([{ status: 429, headers: { 'retry-after': new Date(Date.now() + 3000).toUTCString() } }], { similarity: 5 });
    const started = performance.now();
    await new FaceVerificationClient({ baseUrl: fake.url, onRetry: (r) => retries.push(r) }).compareFaceEmbeddings({ embedding1: [1], embedding2: [1] });
    expect(retries).toHaveLength(1);
    expect(retries[0]!.retryAfterMs).toBeGreaterThan(1000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(retries[0]!.retryAfterMs!);
  });

  it('GIVEN a Retry-After beyond maxRetryDelayMs WHEN called THEN the 429 is thrown at once, telling when to come back', async () => {
    sequence([{ status: 429, headers: { 'retry-after': '120' } }], { similarity: 5 });
    fake.received.length = 0;
    const started = performance.now();
    const error = (await caught(new FaceVerificationClient({ baseUrl: fake.url }).compareFaceEmbeddings({ embedding1: [1], embedding2: [1] }))) as FaceVerificationError;
    expect(error.retryAfterMs).toBe(120_000);
    expect(fake.received).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('GIVEN a server that never answers WHEN the timeout passes THEN a FaceVerificationTimeoutError, not retried', async () => {
    fake.behave(() => undefined);
    fake.received.length = 0;
    const error = (await caught(new FaceVerificationClient({ baseUrl: fake.url, timeoutMs: 5000 }).compareFaceEmbeddings({ embedding1: [1], embedding2: [1] }, { timeoutMs: 300 }))) as FaceVerificationTimeoutError;
    expect(error).toBeInstanceOf(FaceVerificationTimeoutError);
    expect(error.timeoutMs).toBe(300);
    expect(error.message).toMatch(/did not answer within 300 ms/);
    expect(fake.received).toHaveLength(1);
  });

  it('GIVEN the caller aborts during a retry wait THEN the call rejects with the caller\'s reason at once', async () => {
    sequence([{ status: 503, headers: { 'retry-after': '10' } }], { similarity: 5 });
    const controller = new AbortController();
    const call = new FaceVerificationClient({ baseUrl: fake.url, onRetry: () => setTimeout(() => controller.abort(new Error('caller gave up')), 20) }).compareFaceEmbeddings({ embedding1: [1], embedding2: [1] }, { signal: controller.signal });
    const started = performance.now();
    await expect(call).rejects.toThrow('caller gave up');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('GIVEN answers that are not the API\'s WHEN called THEN a FaceVerificationResponseError (or the JSON message of a gateway error)', async () => {
    const client = new FaceVerificationClient({ baseUrl: fake.url, maxRetries: 0 });
    const body = { embedding1: [1], embedding2: [1] };
    fake.behave((_q, _b, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    expect(await caught(client.compareFaceEmbeddings(body))).toMatchObject({ name: 'FaceVerificationResponseError', status: 200, contentType: 'text/html' });
    fake.behave(answerJson(200, { faces: [] }));
    const wrongShape = await caught(client.compareFaceEmbeddings(body));
    expect(wrongShape).toBeInstanceOf(FaceVerificationResponseError);
    expect((wrongShape as Error).message).toMatch(/JSON that is not a valid answer/);
    fake.behave((_q, _b, res) => res.writeHead(502, { 'content-type': 'text/html', 'x-request-id': 'rid-1' }).end('<html>Bad Gateway</html>'));
    expect(await caught(client.compareFaceEmbeddings(body))).toMatchObject({ name: 'FaceVerificationResponseError', status: 502, requestId: 'rid-1' });
    // API Gateway's own default answers are {"message": ...}: still an API error, with its text.
    fake.behave((_q, _b, res) => res.writeHead(403, { 'content-type': 'application/json', 'x-request-id': 'rid-2' }).end('{"message":"Forbidden"}'));
    expect(await caught(client.compareFaceEmbeddings(body))).toMatchObject({ name: 'FaceVerificationError', status: 403, type: 'about:blank', detail: 'Forbidden', requestId: 'rid-2', errors: [] });
  });

  it('GIVEN a bad key, token, URL or number WHEN the client is built THEN a TypeError that does not quote the secret', () => {
    expect(() => new FaceVerificationClient({ apiKey: 'abc\r\nX-Evil: SECRET' })).toThrow(/apiKey must be .*\(value not shown\)/);
    try {
      new FaceVerificationClient({ bearerToken: 'has space SECRET' });
    } catch (error) {
      expect(stringForms(error)).not.toContain('SECRET');
    }
    expect(() => new FaceVerificationClient({ apiKey: 'a', bearerToken: 'b' })).toThrow(/not both/);
    expect(() => new FaceVerificationClient({ baseUrl: 'ftp://x' })).toThrow(/http or https/);
    expect(() => new FaceVerificationClient({ baseUrl: 'not a url' })).toThrow(/absolute/);
    expect(() => new FaceVerificationClient({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new FaceVerificationClient({ maxRetries: 1.5 })).toThrow(/maxRetries/);
    // User info in the base URL is dropped, never printed.
    expect(new FaceVerificationClient({ baseUrl: 'http://user:SECRET@127.0.0.1:9/prod' }).baseUrl).toBe('http://127.0.0.1:9/prod/');
  });
});

describe('image helpers and Retry-After parsing', () => {
  it('imageFromBuffer encodes a Buffer, a Uint8Array view and an ArrayBuffer alike; refuses an empty one', () => {
    const bytes = sample(4);
    const expected = bytes.toString('base64');
    expect(imageFromBuffer(bytes)).toEqual({ bytes: expected });
    const copy = new Uint8Array(bytes.length + 3);
    copy.set(bytes, 3);
    expect(imageFromBuffer(copy.subarray(3))).toEqual({ bytes: expected });
    expect(imageFromBuffer(copy.buffer.slice(3))).toEqual({ bytes: expected });
    expect(() => imageFromBuffer(new Uint8Array(0))).toThrow(/empty/);
  });

  it('imageFromBuffer without Node\'s Buffer (the browser path) gives the same base64', () => {
    const saved = globalThis.Buffer;
    const bytes = new Uint8Array(sample(5));
    try {
      (globalThis as { Buffer?: unknown }).Buffer = undefined;
      expect(imageFromBuffer(bytes).bytes).toBe(saved.from(bytes).toString('base64'));
    } finally {
      globalThis.Buffer = saved;
    }
  });

  it('imageFromUrl accepts http(s) only; imageFromFile reads a file or fails naming it', async () => {
    expect(imageFromUrl('https://example.com/a.jpg')).toEqual({ url: 'https://example.com/a.jpg' });
    expect(() => imageFromUrl('file:///etc/passwd')).toThrow(/http or https/);
    expect(() => imageFromUrl('a.jpg')).toThrow(/absolute/);
    expect(await imageFromFile(samplePath(2))).toEqual({ bytes: sample(2).toString('base64') });
    await expect(imageFromFile('/nonexistent/x.jpg')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('parseRetryAfter reads delta-seconds and HTTP dates, and ignores garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
