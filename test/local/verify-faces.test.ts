/**
 * verify-faces (extension) through `npm start`'s gateway: with the embedded engine end to end
 * (gateway -> backend HTTP -> engine, table mode as compare), and the gateway's own rules
 * (auth, body limit, throttle) in front of it exactly as in front of the vendor operations.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS, VerifyFacesResponseSchema } from '../../lambda/shared/contract.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';

const b64 = (bytes: Buffer) => bytes.toString('base64');

describe('verify-faces: gateway + embedded engine (end to end)', () => {
  let gw: TestGateway;
  let images: Server;
  let imagesUrl: string;

  beforeAll(async () => {
    // Image host on 127.0.0.2: the only address IMAGE_FETCH_ALLOW_CIDRS exempts; it also redirects into 127.0.0.1.
    images = createServer((req, res) => {
      if (req.url === '/face.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(sample(1));
      else if (req.url === '/to-loopback') res.writeHead(302, { location: `http://127.0.0.1:${(images.address() as AddressInfo).port}/face.jpg` }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.2', resolve));
    imagesUrl = `http://127.0.0.2:${(images.address() as AddressInfo).port}`;
    gw = await startTestGateway({ API_KEYS: 'verify-key-0123456789abcdefghij', IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.2/32' });
  });
  afterAll(async () => {
    await gw?.close();
    images?.close();
  });

  async function largest(image: Buffer): Promise<{ face: unknown; embedding: number[]; unprocessed: number }> {
    const res = await gw.post(PATHS.getFaceEmbeddings, { image: { bytes: b64(image) }, maxFaceCount: 1 });
    expect(res.status).toBe(200);
    return { face: res.body.faces[0].face, embedding: res.body.faces[0].embedding, unprocessed: res.body.unprocessedFaceCount };
  }
  async function compare(a: number[], b: number[]): Promise<number> {
    const res = await gw.post(PATHS.compareFaceEmbeddings, { embedding1: a, embedding2: b });
    expect(res.status).toBe(200);
    return res.body.similarity;
  }

  it('GIVEN the same photo twice THEN similarity 100 and the largest face of each, as get-face-embeddings finds it', async () => {
    const res = await gw.post(PATHS.verifyFaces, { image1: { bytes: b64(sample(1)) }, image2: { bytes: b64(sample(1)), url: null } });
    expect(res.status).toBe(200);
    const body = VerifyFacesResponseSchema.parse(res.body);
    const one = await largest(sample(1));
    expect(body).toEqual({ similarity: 100, face1: one.face, face2: one.face, unprocessedFaceCount1: one.unprocessed, unprocessedFaceCount2: one.unprocessed });
    // No embedding in the answer.
    expect(Object.keys(res.body).sort()).toEqual(['face1', 'face2', 'similarity', 'unprocessedFaceCount1', 'unprocessedFaceCount2']);
  });

  it('GIVEN two different photos THEN exactly what the three vendor calls give (get-face-embeddings x2 + compare)', async () => {
    for (const [a, b] of [[2, 3], [1, 4]] as const) {
      const res = await gw.post(PATHS.verifyFaces, { image1: { bytes: b64(sample(a)) }, image2: { bytes: b64(sample(b)) } });
      expect(res.status).toBe(200);
      const [one, two] = [await largest(sample(a)), await largest(sample(b))];
      expect(res.body).toEqual({
        similarity: await compare(one.embedding, two.embedding),
        face1: one.face,
        face2: two.face,
        unprocessedFaceCount1: one.unprocessed,
        unprocessedFaceCount2: two.unprocessed,
      });
      expect(res.body.similarity).toBeLessThan(100);
    }
  });

  it('GIVEN image2 without a face THEN 400 problem naming image2 "no face found"', async () => {
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#7f7f7f' } }).png().toBuffer();
    const res = await gw.post(PATHS.verifyFaces, { image1: { bytes: b64(sample(1)) }, image2: { bytes: b64(blank) } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, errors: [{ field: 'image2', reason: 'no face found' }], requestId: res.headers.get('x-request-id') });
    const both = await gw.post(PATHS.verifyFaces, { image1: { bytes: b64(blank) }, image2: { bytes: b64(blank) } });
    expect(both.body.errors.map((e: { field: string }) => e.field)).toEqual(['image1', 'image2']);
  });

  it('GIVEN image1.url on an allowed host THEN it is downloaded; a redirect into loopback is refused naming image2.url', async () => {
    const ok = await gw.post(PATHS.verifyFaces, { image1: { url: `${imagesUrl}/face.jpg` }, image2: { bytes: b64(sample(1)) } });
    expect(ok.status).toBe(200);
    expect(ok.body.similarity).toBe(100);
    const refused = await gw.post(PATHS.verifyFaces, { image1: { bytes: b64(sample(1)) }, image2: { url: `${imagesUrl}/to-loopback` } });
    expect(refused.status).toBe(400);
    expect(refused.body.type).toBe('urn:face-verification:problem:image-url-rejected');
    expect(refused.body.errors[0].field).toBe('image2.url');
    expect(refused.body.detail).toMatch(/^image2\.url /);
  });

  it('GIVEN a verify-faces request THEN the request log line names neither image nor key', async () => {
    const before = gw.logs.length;
    await gw.post(PATHS.verifyFaces, { image1: { bytes: b64(sample(2)) }, image2: { bytes: b64(sample(2)) } });
    const lines = gw.logs.slice(before).join('\n');
    expect(lines).toContain(PATHS.verifyFaces);
    expect(lines).not.toContain(b64(sample(2)).slice(0, 32));
    expect(lines).not.toContain('verify-key-0123456789abcdefghij');
  });
});

describe('verify-faces: the gateway rules in front of it', () => {
  let backend: FakeBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startFakeBackend(answerJson(200, { faces: [], unprocessedFaceCount: 0 }));
    gw = await startTestGateway({ API_KEYS: 'rules-key-0123456789abcdefghij', BACKEND_URL: backend.url, COMPARE_MODE: 'forward', RATE_LIMIT_RPS: '1', RATE_LIMIT_BURST: '2' });
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  it('GIVEN no or a wrong key THEN 401 before the body is read; GET THEN 405', async () => {
    const none = await fetch(`${gw.url}${PATHS.verifyFaces}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    const wrong = await gw.post(PATHS.verifyFaces, {}, { authorization: 'ApiKey not-a-key-of-this-gateway-000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.type).toBe('urn:face-verification:problem:unauthorized');
    const get = await fetch(`${gw.url}${PATHS.verifyFaces}`, { headers: { authorization: `ApiKey ${gw.apiKeys[0]}` } });
    expect(get.status).toBe(405);
    expect(backend.received).toHaveLength(0);
  });

  it('GIVEN a body over the Lambda payload limit THEN 413 problem; GIVEN the burst used up THEN 429 with Retry-After', async () => {
    // Each call below uses a token; the bucket (1 rps, burst 2) is fresh after the previous test's refusals (auth comes first).
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const big = await gw.post(PATHS.verifyFaces, JSON.stringify({ image1: { bytes: 'A'.repeat(7 * 1024 * 1024) }, image2: { bytes: '' } }));
    expect(big.status).toBe(413);
    expect(big.body.type).toBe('urn:face-verification:problem:payload-too-large');
    await gw.post(PATHS.verifyFaces, {});
    const throttled = await gw.post(PATHS.verifyFaces, {});
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(backend.received).toHaveLength(0);
  });
});
