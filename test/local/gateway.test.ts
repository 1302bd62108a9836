/**
 * The local gateway over real HTTP, in front of a scriptable backend: what it
 * imitates from API Gateway (auth, keys, throttle, limits, timeouts, request ids).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { gatewayEnvFrom } from '../../local/config.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';

const KEY = 'test-key-abcdefghijklmnopqrstuvwxyz';
const jpegB64 = sample(2).toString('base64');
const detect = { faces: [{ confidence: 0.9, boundingBox: { x: 1, y: 1, width: 10, height: 10 } }], unprocessedFaceCount: 0 };

describe('local gateway (fake backend)', () => {
  let backend: FakeBackend;
  let jwks: JwksServer;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startFakeBackend(answerJson(200, detect));
    jwks = await startJwksServer();
    gw = await startTestGateway({
      API_KEYS: `${KEY},second-key-abcdefghijklmnop`,
      BACKEND_URL: backend.url,
      BACKEND_TIMEOUT_MS: '600',
      JWT_ISSUER: jwks.issuer,
      JWT_AUDIENCE: 'face-api',
      RATE_LIMIT_RPS: '1',
      RATE_LIMIT_BURST: '3',
    });
  });
  afterAll(async () => {
    await gw.close();
    await jwks.close();
    await backend.close();
  });

  it('GIVEN a valid ApiKey THEN relays the backend answer with a request id that matches the log line', async () => {
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: jpegB64 } }, { authorization: 'ApiKey second-key-abcdefghijklmnop' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(detect);
    const requestId = res.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === requestId);
    expect(line).toMatchObject({ msg: 'request', method: 'POST', path: PATHS.detectFaces, status: 200 });
    expect(line.keyId).toMatch(/^[0-9a-f]{12}$/);
    expect(typeof line.latencyMs).toBe('number');
  });

  it.each([
    ['no header', undefined],
    ['an unknown key', 'ApiKey not-a-configured-key-123456'],
    ['a malformed header', 'ApiKey'],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['an expired JWT', 'EXPIRED'],
    ['a JWT for another audience', 'WRONG_AUD'],
  ])('GIVEN %s THEN 401 problem with request id', async (_name, header) => {
    let authorization = header;
    if (header === 'EXPIRED') authorization = `Bearer ${await jwks.sign({ sub: 'u' }, { expiresIn: Math.floor(Date.now() / 1000) - 10 })}`;
    if (header === 'WRONG_AUD') authorization = `Bearer ${await jwks.sign({ sub: 'u' }, { audience: 'other' })}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (authorization !== undefined) headers.authorization = authorization;
    const response = await fetch(`${gw.url}${PATHS.detectFaces}`, { method: 'POST', headers, body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const body = await response.json();
    expect(body).toMatchObject({ status: 401, type: 'urn:face-verification:problem:unauthorized', requestId: response.headers.get('x-request-id') });
  });

  it('GIVEN a Bearer JWT signed by the JWKS server THEN 200', async () => {
    const token = await jwks.sign({ sub: 'app-user-1' });
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: jpegB64 } }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
  });

  it('GIVEN a burst over the per-key limit THEN 429 with Retry-After', async () => {
    const key = 'ApiKey second-key-abcdefghijklmnop';
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i++) {
      const res = await gw.post(PATHS.compareFaceEmbeddings, { embedding1: [1], embedding2: [1] }, { authorization: key });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('GIVEN a body over 10 MB THEN 413 without reading it all', async () => {
    const res = await gw.post(PATHS.detectFaces, 'x'.repeat(10 * 1024 * 1024 + 10));
    expect(res.status).toBe(413);
    expect(res.body.type).toBe('urn:face-verification:problem:payload-too-large');
  });

  it('GIVEN a body between 6 and 10 MB THEN 413 from the handler (Lambda payload limit)', async () => {
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: 'A'.repeat(7 * 1024 * 1024) } }, { authorization: `ApiKey ${KEY}` });
    expect(res.status).toBe(413);
  });

  it('answers unknown paths 404 and wrong methods 405, as problems', async () => {
    const missing = await fetch(`${gw.url}/v1/face-verification/nope`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { status: number }).status).toBe(404);
    const wrong = await fetch(`${gw.url}${PATHS.detectFaces}`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('GIVEN the backend stalls THEN 504 at the backend timeout', async () => {
    backend.behave(() => undefined);
    const started = Date.now();
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: jpegB64 } }, { authorization: `ApiKey ${KEY}` });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3000);
    backend.behave(answerJson(200, detect));
  });

  it('GET /health answers 200 while the backend answers (no auth needed)', async () => {
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('never logs keys, tokens or image bytes', () => {
    const text = gw.logs.join('\n');
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('second-key-abcdefghijklmnop');
    expect(text).not.toContain(jpegB64.slice(500, 540));
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('keeps serving after a client disconnects mid-body', async () => {
    await new Promise<void>((resolve) => {
      const req = request(`${gw.url}${PATHS.detectFaces}`, { method: 'POST', headers: { 'content-length': '1000', authorization: `ApiKey ${KEY}` } });
      req.on('error', () => resolve());
      req.write('{"image":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });
});

describe('gateway health and configuration', () => {
  it('GET /health answers 503 when the backend is down, without internal details', async () => {
    const gw = await startTestGateway({ API_KEYS: KEY, BACKEND_URL: 'http://127.0.0.1:1' });
    try {
      const res = await fetch(`${gw.url}/health`);
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(text).not.toContain('127.0.0.1:1');
      expect(text).not.toContain('ECONNREFUSED');
    } finally {
      await gw.close();
    }
  });

  it('refuses a non-loopback HOST without API_KEYS, naming the variable', () => {
    expect(() => gatewayEnvFrom({ HOST: '0.0.0.0' })).toThrow(/API_KEYS: must be set when HOST \(0\.0\.0\.0\)/);
    expect(() => gatewayEnvFrom({ HOST: '0.0.0.0', API_KEYS: 'k' })).not.toThrow();
    expect(() => gatewayEnvFrom({ PORT: 'eighty' })).toThrow(/PORT: must be an integer/);
    expect(() => gatewayEnvFrom({ RATE_LIMIT_RPS: '-1' })).toThrow(/RATE_LIMIT_RPS/);
  });
});
