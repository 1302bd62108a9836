import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBackendClient, type BackendClient } from '../../lambda/shared/backend-client.js';
import { PATHS } from '../../lambda/shared/contract.js';
import { createFaceProxyHandler } from '../../lambda/shared/face-proxy.js';
import type { ImageUrlFetcher } from '../../lambda/shared/image-source.js';
import { ApiError } from '../../lambda/shared/problem.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { postEvent } from '../helpers/events.js';
import { pngWithHeader, sample } from '../helpers/images.js';
import { recordingLogger } from '../helpers/logs.js';

const jpeg = sample(1);
const jpegB64 = jpeg.toString('base64');
const detectAnswer = { faces: [{ confidence: 0.99, boundingBox: { x: 1, y: 2, width: 30, height: 40 } }], unprocessedFaceCount: 2 };

describe('face proxy handler', () => {
  let backend: FakeBackend;
  let client: BackendClient;
  const logger = recordingLogger();
  const fetched: string[] = [];
  const fetcher: ImageUrlFetcher = {
    async fetch(url) {
      fetched.push(url);
      if (url.includes('refused')) throw new ApiError('image-url-rejected', 'image.url resolves to a loopback address');
      return jpeg;
    },
  };
  let handler: ReturnType<typeof createFaceProxyHandler>;

  beforeAll(async () => {
    backend = await startFakeBackend();
    client = createBackendClient({ baseUrl: backend.url, timeoutMs: 400 });
    handler = createFaceProxyHandler({ backend: client, imageFetcher: fetcher, logger });
  });
  afterAll(async () => {
    await client.close();
    await backend.close();
  });
  beforeEach(() => {
    backend.received.length = 0;
    fetched.length = 0;
    backend.behave(answerJson(200, detectAnswer));
  });

  it('GIVEN bytes THEN forwards {image:{bytes}, maxFaceCount} and relays the answer', async () => {
    const result = await handler(postEvent(PATHS.detectFaces, { image: { bytes: jpegB64, url: null }, maxFaceCount: 3, extra: 'dropped' }));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual(detectAnswer);
    expect(result.headers?.['x-request-id']).toBe('req-test-1');
    expect(backend.received).toHaveLength(1);
    expect(backend.received[0]!.path).toBe(PATHS.detectFaces);
    expect(backend.received[0]!.body).toEqual({ image: { bytes: jpegB64 }, maxFaceCount: 3 });
    expect(backend.received[0]!.headers['x-request-id']).toBe('req-test-1');
  });

  it('GIVEN a url THEN downloads it through the fetcher and forwards the bytes', async () => {
    backend.behave(answerJson(200, { faces: [], unprocessedFaceCount: 0 }));
    const result = await handler(postEvent(PATHS.getFaceEmbeddings, { image: { url: 'https://images.example/a.jpg' } }));
    expect(result.statusCode).toBe(200);
    expect(fetched).toEqual(['https://images.example/a.jpg']);
    expect(backend.received[0]!.path).toBe(PATHS.getFaceEmbeddings);
    expect(backend.received[0]!.body).toEqual({ image: { bytes: jpegB64 }, maxFaceCount: 1 });
  });

  it('GIVEN a refused url THEN 400 and the backend is not called', async () => {
    const result = await handler(postEvent(PATHS.detectFaces, { image: { url: 'http://refused.example/a.jpg' } }));
    expect(result.statusCode).toBe(400);
    expect(result.headers?.['content-type']).toBe('application/problem+json');
    expect(JSON.parse(result.body)).toMatchObject({ status: 400, requestId: 'req-test-1', type: 'urn:face-verification:problem:image-url-rejected' });
    expect(backend.received).toHaveLength(0);
  });

  it('GIVEN a decompression bomb header THEN 400 before the backend', async () => {
    const result = await handler(postEvent(PATHS.detectFaces, { image: { bytes: pngWithHeader(9000, 100).toString('base64') } }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).errors[0]).toMatchObject({ field: 'image.bytes' });
    expect(backend.received).toHaveLength(0);
  });

  it.each([
    ['invalid JSON', '{"image":', 400, 'invalid-json'],
    ['empty body', '', 400, 'validation-error'],
    ['missing image', '{}', 400, 'validation-error'],
  ])('GIVEN %s THEN %i problem', async (_name, body, status, kind) => {
    const result = await handler(postEvent(PATHS.detectFaces, body));
    expect(result.statusCode).toBe(status);
    expect(JSON.parse(result.body).type).toBe(`urn:face-verification:problem:${kind}`);
  });

  it('GIVEN a non-JSON content type THEN 415', async () => {
    const result = await handler(postEvent(PATHS.detectFaces, 'image=abc', { 'content-type': 'application/x-www-form-urlencoded' }));
    expect(result.statusCode).toBe(415);
  });

  it('GIVEN a body over 6 MB THEN 413', async () => {
    const result = await handler(postEvent(PATHS.detectFaces, { image: { bytes: 'A'.repeat(6 * 1024 * 1024) } }));
    expect(result.statusCode).toBe(413);
  });

  it.each([
    ['a 500', 502, answerJson(500, { error: 'boom' })],
    ['garbage', 502, ((_req, _body, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('not json')) as Parameters<FakeBackend['behave']>[0]],
    ['a 200 off-contract', 502, answerJson(200, { faces: 'many' })],
    ['a 401 (activation problem)', 502, answerJson(401, {})],
    ['a 503', 503, answerJson(503, {})],
    ['a stall', 504, (() => undefined) as Parameters<FakeBackend['behave']>[0]],
    ['a cut connection', 502, ((req) => req.socket.destroy()) as Parameters<FakeBackend['behave']>[0]],
  ])('GIVEN the backend answers %s THEN %i with a problem body', async (_name, status, behaviour) => {
    backend.behave(behaviour);
    const result = await handler(postEvent(PATHS.detectFaces, { image: { bytes: jpegB64 } }));
    expect(result.statusCode).toBe(status);
    const body = JSON.parse(result.body);
    expect(body).toMatchObject({ status, requestId: 'req-test-1' });
    expect(body.detail).not.toMatch(/boom|not json/);
  });

  it('GIVEN the backend reports the image as undecodable (400 problem) THEN the 400 is relayed with errors naming image.bytes', async () => {
    backend.behave(answerJson(400, { type: 'x', title: 'bad image', status: 400, detail: 'The image could not be decoded.' }));
    const result = await handler(postEvent(PATHS.detectFaces, { image: { bytes: jpegB64 } }));
    expect(result.statusCode).toBe(400);
    const body = JSON.parse(result.body);
    expect(body.detail).toBe('The image could not be decoded.');
    expect(body.errors).toEqual([{ field: 'image.bytes', reason: 'could not be decoded or processed by the face engine' }]);
  });

  it('GIVEN the backend is down THEN 503 with Retry-After', async () => {
    const down = createBackendClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 400 });
    const result = await createFaceProxyHandler({ backend: down, imageFetcher: fetcher, logger })(postEvent(PATHS.detectFaces, { image: { bytes: jpegB64 } }));
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe('1');
    await down.close();
  });

  it('never logs the image', () => {
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(logger.text()).not.toContain(jpegB64.slice(1000, 1040));
  });
});
