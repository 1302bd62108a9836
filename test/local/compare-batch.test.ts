/**
 * compare-face-embeddings-batch through the real local gateway (issue 11 point 3): the same
 * authorizer, usage keys, throttle and body limits as compare-face-embeddings; with the embedded
 * engine the similarities of real face embeddings equal the single compares; in forward mode
 * COMPARE_BATCH_CONCURRENCY bounds the calls in flight and the integration timeout gives a 504.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { LIMITS } from '../../lambda/shared/limits.js';
import { startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';

const KEY = 'batch-key-abcdefghijklmnopqrstuvwxyz';
const OTHER = 'batch-other-abcdefghijklmnopqrstuvw';
const BATCH = PATHS.compareFaceEmbeddingsBatch;

describe('batch route on the local gateway (embedded engine, table mode)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ API_KEYS: `${KEY},${OTHER}`, RATE_LIMIT_RPS: '0.01', RATE_LIMIT_BURST: '40' });
  }, 60_000);
  afterAll(() => gw.close());

  it('GIVEN real face embeddings WHEN one is compared with all in a batch THEN each similarity equals the single compare of that pair', async () => {
    const embeddings: number[][] = [];
    for (const n of [1, 2, 3, 4]) {
      const res = await gw.post(PATHS.getFaceEmbeddings, { image: { bytes: sample(n).toString('base64') }, maxFaceCount: 3 });
      expect(res.status).toBe(200);
      for (const face of res.body.faces) embeddings.push(face.embedding);
    }
    expect(embeddings.length).toBeGreaterThanOrEqual(4);
    const probe = embeddings[0]!;
    const batch = await gw.post(BATCH, { embedding: probe, embeddings });
    expect(batch.status).toBe(200);
    expect(batch.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(batch.body.similarities).toHaveLength(embeddings.length);
    expect(batch.body.similarities[0]).toBe(100);
    for (let i = 0; i < embeddings.length; i++) {
      const single = await gw.post(PATHS.compareFaceEmbeddings, { embedding1: probe, embedding2: embeddings[i] });
      expect(batch.body.similarities[i], `candidate ${i}`).toBe(single.body.similarity);
    }
  }, 60_000);

  it('GIVEN the served OpenAPI document WHEN the batch example is posted as Swagger UI sends it THEN 200 with one similarity per candidate', async () => {
    const doc = (await (await fetch(`${gw.url}${PATHS.openApiDocument}`)).json()) as any;
    const op = doc.paths[BATCH].post;
    const example = op.requestBody.content['application/json'].example;
    const res = await gw.post(BATCH, example);
    expect(res.status).toBe(200);
    expect(res.body.similarities).toHaveLength(example.embeddings.length);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '413', '429', '502', '503', '504']));
  });

  it.each([
    ['no Authorization header', undefined],
    ['an unknown key', 'ApiKey not-a-configured-key-1234567890'],
  ])('GIVEN %s WHEN a batch is posted THEN 401 before the body is read', async (_name, authorization) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (authorization) headers.authorization = authorization;
    const response = await fetch(`${gw.url}${BATCH}`, { method: 'POST', headers, body: JSON.stringify({ embedding: [1], embeddings: [[1]] }) });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { type: string }).type).toBe('urn:face-verification:problem:unauthorized');
  });

  it('GIVEN the wrong method WHEN GET THEN 405 naming POST', async () => {
    const response = await fetch(`${gw.url}${BATCH}`, { headers: { authorization: `ApiKey ${KEY}` } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('GIVEN 1,000 candidates of 4,096 numbers WHEN posted THEN 413 with the Lambda body limit; 1,001 small candidates THEN 400 naming embeddings', async () => {
    const row = Array.from({ length: 4096 }, (_, i) => (i % 89) / 1000 + 0.0001);
    const big = JSON.stringify({ embedding: row, embeddings: Array.from({ length: 1000 }, () => row) });
    expect(big.length).toBeGreaterThan(LIMITS.apiGatewayMaxBodyBytes);
    const overGateway = await gw.post(BATCH, big);
    expect(overGateway.status).toBe(413);
    // Between Lambda's 6 MB and API Gateway's 10 MB: the handler's own 413.
    const mid = JSON.stringify({ embedding: row, embeddings: Array.from({ length: 180 }, () => row) });
    expect(mid.length).toBeGreaterThan(LIMITS.maxRequestBodyBytes);
    expect(mid.length).toBeLessThan(LIMITS.apiGatewayMaxBodyBytes);
    const overLambda = await gw.post(BATCH, mid);
    expect(overLambda.status).toBe(413);
    expect(overLambda.body.detail).toBe(`The request body must be at most ${LIMITS.maxRequestBodyBytes} bytes.`);
    const tooMany = await gw.post(BATCH, { embedding: [1, 2], embeddings: Array.from({ length: 1001 }, () => [2, 1]) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors[0]).toEqual({ field: 'embeddings', reason: 'must hold at most 1000 embeddings' });
  });

  it('GIVEN one key WHEN it sends batches and compares past its burst THEN 429 with Retry-After from the same bucket, other keys unaffected', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 45; i++) {
      const res = i % 2 ? await gw.post(BATCH, { embedding: [1], embeddings: [[1]] }, { authorization: `ApiKey ${OTHER}` }) : await gw.post(PATHS.compareFaceEmbeddings, { embedding1: [1], embedding2: [1] }, { authorization: `ApiKey ${OTHER}` });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(40);
    expect(statuses.at(-1)).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await gw.post(BATCH, { embedding: [1], embeddings: [[1]] })).status).toBe(200);
  });

  it('never logs the embeddings of a batch', () => {
    expect(gw.logs.join('\n')).not.toMatch(/0\.0881|"embedding/);
  });
});

describe('batch route on the local gateway (forward mode)', () => {
  let backend: FakeBackend;
  let gw: TestGateway;
  const state = { inFlight: 0, maxInFlight: 0, delayMs: 5 };
  beforeAll(async () => {
    backend = await startFakeBackend((_req, body, res) => {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const { embedding2 } = JSON.parse(body.toString('utf8')) as { embedding2: number[] };
      setTimeout(() => {
        state.inFlight--;
        // The candidate's first number is its index: the answer tells which candidate it was for.
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ similarity: embedding2[0] }));
      }, Math.floor(Math.random() * state.delayMs));
    });
    gw = await startTestGateway({ API_KEYS: KEY, BACKEND_URL: backend.url, COMPARE_MODE: 'forward', COMPARE_BATCH_CONCURRENCY: '5', INTEGRATION_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('GIVEN COMPARE_BATCH_CONCURRENCY=5 WHEN 100 candidates are forwarded THEN at most 5 calls in flight and the answers in the candidates order', async () => {
    const embeddings = Array.from({ length: 100 }, (_, i) => [i, 1]);
    const res = await gw.post(BATCH, { embedding: [1, 1], embeddings });
    expect(res.status).toBe(200);
    expect(res.body.similarities).toEqual(embeddings.map(([i]) => i));
    expect(state.maxInFlight).toBe(5);
  });

  it('GIVEN a backend slower than the integration timeout allows WHEN a batch is forwarded THEN our 504 problem, before the gateway gives up', async () => {
    state.delayMs = 400;
    const res = await gw.post(BATCH, { embedding: [1, 1], embeddings: Array.from({ length: 60 }, (_, i) => [i, 1]) });
    state.delayMs = 5;
    expect(res.status).toBe(504);
    expect(res.body.detail).toMatch(/time budget \(waiting for the backend/);
    expect(res.body.similarities).toBeUndefined();
  });
});
