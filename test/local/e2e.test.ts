/**
 * End to end over real HTTP: `npm start`'s gateway with the embedded engine, the
 * vendor guide's three calls with the sample photos shipped in @vladmandic/face-api.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS } from '../../lambda/shared/contract.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';

interface Box { x: number; y: number; width: number; height: number }

describe('gateway + embedded engine (end to end)', () => {
  let gw: TestGateway;
  let images: Server;
  let imagesUrl: string;

  beforeAll(async () => {
    // Image host on 127.0.0.2: the only address IMAGE_FETCH_ALLOW_CIDRS exempts. It also redirects into 127.0.0.1.
    images = createServer((req, res) => {
      if (req.url === '/face.jpg') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(sample(1));
      else if (req.url === '/to-loopback') res.writeHead(302, { location: `http://127.0.0.1:${(images.address() as AddressInfo).port}/face.jpg` }).end();
      else if (req.url === '/to-metadata') res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.2', resolve));
    imagesUrl = `http://127.0.0.2:${(images.address() as AddressInfo).port}`;
    gw = await startTestGateway({ API_KEYS: 'e2e-key-0123456789abcdefghij', IMAGE_FETCH_ALLOW_CIDRS: '127.0.0.2/32' });
  });
  afterAll(async () => {
    await gw?.close();
    images?.close();
  });

  async function largestEmbedding(image: Buffer): Promise<number[]> {
    const res = await gw.post(PATHS.getFaceEmbeddings, { image: { bytes: image.toString('base64') }, maxFaceCount: 1 });
    expect(res.status).toBe(200);
    return res.body.faces[0].embedding;
  }
  async function similarity(a: number[], b: number[]): Promise<number> {
    const res = await gw.post(PATHS.compareFaceEmbeddings, { embedding1: a, embedding2: b });
    expect(res.status).toBe(200);
    return res.body.similarity;
  }

  it('detect-faces finds faces with integer boxes inside the 1920x1280 image, largest first', async () => {
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: sample(1).toString('base64'), url: null }, maxFaceCount: 10 });
    expect(res.status).toBe(200);
    const faces = res.body.faces as Array<{ confidence: number; boundingBox: Box }>;
    expect(faces.length).toBeGreaterThan(0);
    expect(res.body.unprocessedFaceCount).toBe(0);
    for (const { confidence, boundingBox: b } of faces) {
      expect(confidence).toBeGreaterThan(0.3);
      expect(confidence).toBeLessThanOrEqual(1);
      for (const v of [b.x, b.y, b.width, b.height]) expect(Number.isInteger(v)).toBe(true);
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.y).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(1920);
      expect(b.y + b.height).toBeLessThanOrEqual(1280);
    }
    const areas = faces.map((f) => f.boundingBox.width * f.boundingBox.height);
    expect(areas).toEqual([...areas].sort((a, b) => b - a));
  });

  it('honours maxFaceCount and reports the rest as unprocessed', async () => {
    const all = await gw.post(PATHS.detectFaces, { image: { bytes: sample(1).toString('base64') }, maxFaceCount: 10 });
    const one = await gw.post(PATHS.detectFaces, { image: { bytes: sample(1).toString('base64') } });
    expect(one.body.faces).toHaveLength(1);
    expect(one.body.unprocessedFaceCount).toBe(all.body.faces.length - 1);
  });

  it('get-face-embeddings returns unit-length embeddings of at least 128 numbers', async () => {
    const embedding = await largestEmbedding(sample(1));
    expect(embedding.length).toBeGreaterThanOrEqual(128);
    expect(Math.hypot(...embedding)).toBeCloseTo(1, 5);
  });

  it('a face compared with a resized, re-encoded copy of itself scores far above different faces', async () => {
    const original = await largestEmbedding(sample(1));
    const copy = await largestEmbedding(await sharp(sample(1)).resize({ width: 1280 }).jpeg({ quality: 70 }).toBuffer());
    const same = await similarity(original, copy);
    expect(same).toBeGreaterThanOrEqual(90);
    expect(same).toBeLessThanOrEqual(100);
    // The faces in one photo are certainly different people (the sample photos share people across photos).
    const group = await gw.post(PATHS.getFaceEmbeddings, { image: { bytes: sample(1).toString('base64') }, maxFaceCount: 10 });
    const embeddings = (group.body.faces as Array<{ embedding: number[] }>).map((f) => f.embedding);
    expect(embeddings.length).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < embeddings.length; i++) {
      for (let j = i + 1; j < embeddings.length; j++) expect(await similarity(embeddings[i]!, embeddings[j]!)).toBeLessThan(70);
    }
  });

  it('a PNG works, and an image without a face is a 200 with empty faces', async () => {
    const png = await sharp(sample(2)).resize({ width: 800 }).png().toBuffer();
    const withFace = await gw.post(PATHS.detectFaces, { image: { bytes: png.toString('base64') } });
    expect(withFace.status).toBe(200);
    expect(withFace.body.faces.length).toBe(1);
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#7f7f7f' } }).png().toBuffer();
    const none = await gw.post(PATHS.detectFaces, { image: { bytes: blank.toString('base64') } });
    expect(none.status).toBe(200);
    expect(none.body).toEqual({ faces: [], unprocessedFaceCount: 0 });
  });

  it('an image that fails to decode is a 400 problem', async () => {
    const broken = Buffer.concat([sample(3).subarray(0, 2000), Buffer.alloc(3000, 0x41)]);
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: broken.toString('base64') } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
    expect(res.body.errors).toEqual([{ field: 'image.bytes', reason: expect.stringMatching(/not a readable JPEG/) }]);
  });

  it('GIVEN a JPEG whose header reads but whose pixels do not decode WHEN posted THEN the engine\'s 400 names image.bytes in errors', async () => {
    // The whole header (dimensions readable, so the proxy forwards it), then the scan data cut off.
    const jpeg = sample(3);
    const broken = Buffer.concat([jpeg.subarray(0, Math.floor(jpeg.length / 3)), Buffer.alloc(64, 0x00)]);
    const res = await gw.post(PATHS.detectFaces, { image: { bytes: broken.toString('base64') } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.errors).toEqual([{ field: 'image.bytes', reason: 'could not be decoded or processed by the face engine' }]);
  });

  it('an image URL on an allowed address is downloaded and detected', async () => {
    const res = await gw.post(PATHS.detectFaces, { image: { url: `${imagesUrl}/face.jpg` }, maxFaceCount: 10 });
    expect(res.status).toBe(200);
    expect(res.body.faces.length).toBeGreaterThan(0);
  });

  it.each(['/to-loopback', '/to-metadata'])('a redirect %s is refused with a 4xx', async (path) => {
    const res = await gw.post(PATHS.detectFaces, { image: { url: `${imagesUrl}${path}` } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('image.url');
  });

  it('a URL straight at loopback is refused', async () => {
    const res = await gw.post(PATHS.getFaceEmbeddings, { image: { url: `http://127.1:${gw.port}/health` } });
    expect(res.status).toBe(400);
  });

  it('GET /health is 200 with the engine up', async () => {
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  it('logged nothing biometric', () => {
    const text = gw.logs.join('\n');
    expect(text).not.toContain(sample(1).toString('base64').slice(3000, 3040));
    expect(text).not.toMatch(/0\.\d{6,}/); // no embedding values
    expect(text).not.toContain('e2e-key-0123456789abcdefghij');
  });
});
