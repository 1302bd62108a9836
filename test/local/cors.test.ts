/**
 * CORS on the laptop gateway (CORS_ALLOW_ORIGINS), over real HTTP: the preflight a
 * browser sends, an error answered by the gateway itself (401), and a handler answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const APP = 'https://app.example.com';
const ADMIN = 'http://localhost:5173';
const EMBEDDING = Array.from({ length: 128 }, (_, i) => Math.sin(i + 1));

function preflight(gateway: TestGateway, path: string, origin: string) {
  return fetch(`${gateway.url}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });
}

describe('local gateway with CORS_ALLOW_ORIGINS (two origins)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ CORS_ALLOW_ORIGINS: `${APP}, ${ADMIN}` });
  });
  afterAll(() => gateway.close());

  it('GIVEN an allowed origin WHEN the browser sends the preflight THEN 204 allows POST with Authorization and Content-Type', async () => {
    for (const path of [PATHS.detectFaces, PATHS.getFaceEmbeddings, PATHS.compareFaceEmbeddings, PATHS.openApiDocument]) {
      const response = await preflight(gateway, path, ADMIN);
      expect(response.status, path).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(ADMIN);
      expect(response.headers.get('access-control-allow-methods')).toBe('GET,POST,OPTIONS');
      expect(response.headers.get('access-control-allow-headers')).toBe('Authorization,Content-Type');
      expect(response.headers.get('access-control-max-age')).toBe('600');
      expect(response.headers.get('vary')).toBe('Origin');
      expect(await response.text()).toBe('');
    }
  });

  it('GIVEN an origin that is not allowed WHEN it sends the preflight THEN no Access-Control-Allow-Origin comes back (the browser blocks)', async () => {
    const response = await preflight(gateway, PATHS.detectFaces, 'https://evil.example.net');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('GIVEN no Authorization header WHEN an allowed app posts THEN the 401 problem is readable: static "*" as API Gateway gateway responses with several origins', async () => {
    const response = await fetch(`${gateway.url}${PATHS.compareFaceEmbeddings}`, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json' },
      body: JSON.stringify({ embedding1: EMBEDDING, embedding2: EMBEDDING }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id, retry-after');
    expect(((await response.json()) as { status: number }).status).toBe(401);
  });

  it('GIVEN a valid key WHEN an allowed app compares THEN the handler answer echoes its origin with Vary: Origin', async () => {
    const response = await gateway.post(PATHS.compareFaceEmbeddings, { embedding1: EMBEDDING, embedding2: EMBEDDING }, { origin: APP });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(response.headers.get('vary')).toBe('Origin');
    expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id, retry-after');
  });

  it('GIVEN a handler error (400) WHEN an allowed app posts THEN it is readable too', async () => {
    const response = await gateway.post(PATHS.compareFaceEmbeddings, { embedding1: EMBEDDING }, { origin: ADMIN });
    expect(response.status).toBe(400);
    expect(response.headers.get('access-control-allow-origin')).toBe(ADMIN);
  });

  it('GIVEN another origin WHEN it posts with a valid key THEN the answer carries no Access-Control-Allow-Origin', async () => {
    const response = await gateway.post(PATHS.compareFaceEmbeddings, { embedding1: EMBEDDING, embedding2: EMBEDDING }, { origin: 'https://evil.example.net' });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('local gateway with one CORS origin', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ CORS_ALLOW_ORIGINS: APP });
  });
  afterAll(() => gateway.close());

  it('GIVEN one allowed origin WHEN the gateway answers 401 THEN the static value is that origin', async () => {
    const response = await fetch(`${gateway.url}${PATHS.detectFaces}`, { method: 'POST', headers: { origin: APP, 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
  });
});

describe('local gateway without CORS_ALLOW_ORIGINS (the default)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway({});
  });
  afterAll(() => gateway.close());

  it('GIVEN no allowed origins WHEN a browser sends the preflight THEN it is refused (405) with no CORS headers', async () => {
    const response = await preflight(gateway, PATHS.detectFaces, APP);
    expect(response.status).toBe(405);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('GIVEN no allowed origins WHEN the gateway answers 401 THEN no CORS header is added', async () => {
    const response = await fetch(`${gateway.url}${PATHS.detectFaces}`, { method: 'POST', headers: { origin: APP, 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS_ALLOW_ORIGINS validation', () => {
  it('GIVEN an origin with a path WHEN the gateway starts THEN it is refused naming the variable', async () => {
    await expect(startTestGateway({ CORS_ALLOW_ORIGINS: 'https://app.example.com/' })).rejects.toThrow(/CORS_ALLOW_ORIGINS: "https:\/\/app\.example\.com\/" must be "\*" or an origin/);
  });
});
