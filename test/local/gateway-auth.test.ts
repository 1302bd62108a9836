/**
 * Issue 10 on the laptop gateway (`npm start`): each Bearer client has its own
 * RATE_LIMIT_RPS bucket (point 1), tokens must expire (point 2), refusals are
 * logged with a fixed reason (point 4), and credentials are checked from the
 * headers before one byte of the body is read (point 6).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { gatewayEnvFrom } from '../../local/config.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';

const KEY = 'auth-test-key-abcdefghijklmnopqrstuvwxyz';
const jpegB64 = sample(2).toString('base64');
const detect = { faces: [{ confidence: 0.9, boundingBox: { x: 1, y: 1, width: 10, height: 10 } }], unprocessedFaceCount: 0 };

/** Opens a raw connection and sends only the request head (no body), as a slow uploader would. */
function sendHeadOnly(url: string, headers: Record<string, string>): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      const head = Object.entries({ host: `${hostname}:${port}`, 'content-type': 'application/json', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.write(`POST ${PATHS.detectFaces} HTTP/1.1\r\n${head}\r\n`);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Everything the server writes until it closes the connection, or what arrived after `ms`. */
function readFor(socket: Socket, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), ms);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.once('close', () => done(true));
    socket.once('error', () => undefined);
  });
}

describe('local gateway: Bearer clients and refusals', () => {
  let backend: FakeBackend;
  let jwks: JwksServer;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startFakeBackend(answerJson(200, detect));
    jwks = await startJwksServer();
    gw = await startTestGateway({
      API_KEYS: KEY,
      BACKEND_URL: backend.url,
      JWT_ISSUER: jwks.issuer,
      JWT_JWKS_URI: jwks.jwksUri,
      JWT_AUDIENCE: 'face-api',
      // 1 token per 100 s: a bucket that is empty stays empty for this test.
      RATE_LIMIT_RPS: '0.01',
      RATE_LIMIT_BURST: '2',
    });
  });
  afterAll(async () => {
    await gw.close();
    await jwks.close();
    await backend.close();
  });

  const detectAs = async (token: string) => (await gw.post(PATHS.detectFaces, { image: { bytes: jpegB64 } }, { authorization: `Bearer ${token}` })).status;

  it('GIVEN client A uses up its bucket THEN A gets 429 and client B still gets 200 (one bucket per client_id)', async () => {
    const a1 = await jwks.sign({ sub: 'alice', client_id: 'client-a' });
    const a2 = await jwks.sign({ sub: 'bob', client_id: 'client-a' });
    expect([await detectAs(a1), await detectAs(a2), await detectAs(a1)]).toEqual([200, 200, 429]);
    // Another user of client A shares A's bucket: metering is per client, not per token.
    expect(await detectAs(await jwks.sign({ sub: 'carol', client_id: 'client-a' }))).toBe(429);
    const b = await jwks.sign({ sub: 'alice', client_id: 'client-b' });
    expect([await detectAs(b), await detectAs(b)]).toEqual([200, 200]);
    // Without client_id, `sub` names the client.
    expect(await detectAs(await jwks.sign({ sub: 'client-c' }))).toBe(200);
  });

  it('GIVEN a token without exp or with a lifetime over 24 h THEN 401, with the fixed reason in the log line and no token', async () => {
    const forever = await jwks.sign({ sub: 'u', client_id: 'client-d' }, { expiresIn: null });
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: jpegB64 } }, { authorization: `Bearer ${forever}` });
    expect(res.status).toBe(401);
    const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === res.headers.get('x-request-id'));
    expect(line).toMatchObject({ status: 401, refusal: 'missing-exp' });

    const iat = Math.floor(Date.now() / 1000);
    const long = await jwks.sign({ sub: 'u', client_id: 'client-d' }, { issuedAt: iat, expiresIn: iat + 2 * 86_400 });
    const res2 = await gw.post(PATHS.detectFaces, { image: { bytes: jpegB64 } }, { authorization: `Bearer ${long}` });
    expect(res2.status).toBe(401);
    expect(gw.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === res2.headers.get('x-request-id'))).toMatchObject({ refusal: 'lifetime-too-long' });

    const text = gw.logs.join('\n');
    expect(text).not.toContain(forever.split('.')[1]!);
    expect(text).not.toContain(long.split('.')[2]!);
  });

  it.each([
    ['no Authorization header', {}],
    ['an unknown API key', { authorization: 'ApiKey not-a-configured-key-0123456789' }],
    ['a malformed Bearer token', { authorization: 'Bearer abc' }],
  ])('GIVEN %s and a 10 MB body that never comes THEN 401 at once, and the connection is closed unread', async (_name, headers: Record<string, string>) => {
    const socket = await sendHeadOnly(gw.url, { ...headers, 'content-length': String(10 * 1024 * 1024) });
    try {
      const started = Date.now();
      const { text, closed } = await readFor(socket, 3000);
      expect(text).toMatch(/^HTTP\/1\.1 401 /);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(text).toContain('urn:face-verification:problem:unauthorized');
      // Answered without waiting for the body, and the server hung up instead of draining it.
      expect(closed).toBe(true);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      socket.destroy();
    }
  });

  it('GIVEN a valid key THEN the gateway does wait for the body (the early answer is about credentials only)', async () => {
    const socket = await sendHeadOnly(gw.url, { authorization: `ApiKey ${KEY}`, 'content-length': '100' });
    try {
      const { text, closed } = await readFor(socket, 500);
      expect(text).toBe('');
      expect(closed).toBe(false);
    } finally {
      socket.destroy();
    }
  });

  it('Swagger UI offers Bearer because JWT_ISSUER is set; a gateway without it offers ApiKey only', async () => {
    const withJwt = (await (await fetch(`${gw.url}/swagger/v1/swagger.json`)).json()) as { components: { securitySchemes: object } };
    expect(Object.keys(withJwt.components.securitySchemes).sort()).toEqual(['ApiKeyAuth', 'BearerAuth']);
    const plain = await startTestGateway({ API_KEYS: KEY, BACKEND_URL: backend.url });
    try {
      const doc = (await (await fetch(`${plain.url}/swagger/v1/swagger.json`)).json()) as { components: { securitySchemes: object } };
      expect(Object.keys(doc.components.securitySchemes)).toEqual(['ApiKeyAuth']);
    } finally {
      await plain.close();
    }
  });

  it('keeps answering after refused uploads', async () => {
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: jpegB64 } }, { authorization: `ApiKey ${KEY}` });
    expect(res.status).toBe(200);
  });
});

describe('npm start configuration: loopback decided by an IP parser (issue 10, point 5)', () => {
  it.each(['127.evil.example', '127.0.0.1.nip.io', '0.0.0.0', '::'])('HOST=%s is not loopback: API_KEYS must be set', (host) => {
    expect(() => gatewayEnvFrom({ HOST: host })).toThrow(/API_KEYS: must be set when HOST/);
  });

  it.each(['127.0.0.1', '127.0.0.2', '::1', 'localhost'])('HOST=%s is loopback: a key may be generated', (host) => {
    expect(gatewayEnvFrom({ HOST: host }).API_KEYS).toEqual([]);
  });
});
