import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import {
  CompareFaceEmbeddingsRequestSchema,
  FaceImageRequestSchema,
  parseRequest,
} from '../../lambda/shared/contract.js';
import { base64ImageProblem, checkImageDimensions, sniffImageFormat } from '../../lambda/shared/image-bytes.js';
import { buildOpenApiDocument } from '../../lambda/shared/openapi.js';
import { ApiError } from '../../lambda/shared/problem.js';
import { pngWithHeader, sample } from '../helpers/images.js';

const jpegB64 = sample(1).toString('base64');

function refusal(schema: Parameters<typeof parseRequest>[0], body: unknown): ApiError {
  try {
    parseRequest(schema, body);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('FaceImageRequestSchema', () => {
  it('GIVEN base64 bytes WHEN parsed THEN maxFaceCount defaults to 1', () => {
    expect(parseRequest(FaceImageRequestSchema, { image: { bytes: jpegB64 } })).toEqual({ image: { bytes: jpegB64 }, maxFaceCount: 1 });
  });

  it('accepts a url with bytes null, as the vendor guide writes it', () => {
    const body = { image: { bytes: null, url: 'https://example.com/face.jpg' }, maxFaceCount: 10 };
    expect(parseRequest(FaceImageRequestSchema, body)).toEqual(body);
  });

  it.each([
    [{}, 'image', 'is required'],
    [{ image: null }, 'image', 'must be an object'],
    [{ image: {} }, 'image', 'one of image.bytes or image.url is required'],
    [{ image: { bytes: null, url: null } }, 'image', 'one of image.bytes or image.url is required'],
    [{ image: { bytes: jpegB64, url: 'https://example.com/a.jpg' } }, 'image', 'not both'],
    [{ image: { bytes: 'not base64!' } }, 'image.bytes', 'strict base64'],
    [{ image: { bytes: `${jpegB64.slice(0, 100)}\n${jpegB64.slice(100, 200)}` } }, 'image.bytes', 'strict base64'],
    [{ image: { bytes: jpegB64.slice(0, 101) } }, 'image.bytes', 'strict base64'],
    [{ image: { bytes: Buffer.from('GIF89a......').toString('base64') } }, 'image.bytes', 'JPEG or PNG'],
    [{ image: { bytes: `data:image/jpeg;base64,${jpegB64}` } }, 'image.bytes', 'data:'],
    [{ image: { bytes: '' } }, 'image.bytes', 'must not be empty'],
    [{ image: { bytes: 42 } }, 'image.bytes', 'base64 string'],
    [{ image: { url: 'ftp://example.com/a.jpg' } }, 'image.url', 'http:// or https://'],
    [{ image: { url: '/relative/a.jpg' } }, 'image.url', 'http:// or https://'],
    [{ image: { url: `https://example.com/${'a'.repeat(2040)}` } }, 'image.url', 'at most 2048'],
    [{ image: { bytes: jpegB64 }, maxFaceCount: 0 }, 'maxFaceCount', 'at least 1'],
    [{ image: { bytes: jpegB64 }, maxFaceCount: 11 }, 'maxFaceCount', 'at most 10'],
    [{ image: { bytes: jpegB64 }, maxFaceCount: 2.5 }, 'maxFaceCount', 'integer'],
    [{ image: { bytes: jpegB64 }, maxFaceCount: '3' }, 'maxFaceCount', 'integer'],
    [{ image: { bytes: jpegB64 }, maxFaceCount: null }, 'maxFaceCount', 'integer'],
    [[], '(body)', 'JSON object'],
    ['text', '(body)', 'JSON object'],
  ])('refuses %j naming %s', (body, field, reason) => {
    const error = refusal(FaceImageRequestSchema, body);
    expect(error.status).toBe(400);
    expect(error.kind).toBe('validation-error');
    expect(error.errors?.[0]?.field).toBe(field);
    expect(error.errors?.[0]?.reason).toContain(reason);
    expect(error.message).toContain(field);
  });

  it('never echoes the submitted image in an error', () => {
    const body = { image: { bytes: `${jpegB64.slice(0, 400)}#` } };
    const error = refusal(FaceImageRequestSchema, body);
    expect(JSON.stringify(error.toProblem('id'))).not.toContain(jpegB64.slice(0, 40));
  });
});

describe('CompareFaceEmbeddingsRequestSchema', () => {
  it('accepts two equal-length arrays of finite numbers', () => {
    const body = { embedding1: [0.1, -0.2, 3], embedding2: [1, 2, 3] };
    expect(parseRequest(CompareFaceEmbeddingsRequestSchema, body)).toEqual(body);
  });

  it.each([
    [{ embedding1: [1, 2], embedding2: [1] }, 'embedding2', 'same length'],
    [{ embedding1: null, embedding2: [1] }, 'embedding1', 'not null'],
    [{ embedding2: [1] }, 'embedding1', 'is required'],
    [{ embedding1: [], embedding2: [] }, 'embedding1', 'must not be empty'],
    [{ embedding1: ['1'], embedding2: [1] }, 'embedding1[0]', 'finite number'],
    [{ embedding1: [1, Infinity], embedding2: [1, 2] }, 'embedding1[1]', 'finite number'],
    [{ embedding1: new Array(4097).fill(0.5), embedding2: new Array(4097).fill(0.5) }, 'embedding1', 'at most 4096'],
    [{ embedding1: 'abc', embedding2: [1] }, 'embedding1', 'array of numbers'],
  ])('refuses %#: %s', (body, field, reason) => {
    const error = refusal(CompareFaceEmbeddingsRequestSchema, body);
    expect(error.errors?.[0]?.field).toBe(field);
    expect(error.errors?.[0]?.reason).toContain(reason);
  });

  it('reports a long array of bad entries once per field, not 4,096 times', () => {
    const error = refusal(CompareFaceEmbeddingsRequestSchema, { embedding1: new Array(4096).fill('x'), embedding2: new Array(4096).fill(1) });
    expect(error.errors!.length).toBeLessThanOrEqual(20);
  });
});

describe('image bytes checks', () => {
  it('sniffs JPEG and PNG from the bytes alone', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#888' } }).png().toBuffer();
    expect(sniffImageFormat(sample(2))).toBe('jpeg');
    expect(sniffImageFormat(png)).toBe('png');
    expect(sniffImageFormat(Buffer.from('<html>'))).toBeUndefined();
    expect(base64ImageProblem(png.toString('base64'))).toBeUndefined();
  });

  it('reads the dimensions of a real JPEG from its header', () => {
    expect(checkImageDimensions(sample(1))).toEqual({ ok: true, dimensions: { width: 1920, height: 1280, format: 'jpeg' } });
  });

  it('GIVEN a real 8,193 x 2 PNG THEN it is refused for its side', async () => {
    const wide = await sharp({ create: { width: 8193, height: 2, channels: 3, background: '#000' } }).png().toBuffer();
    const result = checkImageDimensions(wide);
    expect(result).toMatchObject({ ok: false });
    expect(!result.ok && result.reason).toContain('8192 px a side');
  });

  it('GIVEN a PNG header claiming 7,000 x 7,000 (49 MP) THEN it is refused without decoding', () => {
    const bomb = pngWithHeader(7000, 7000);
    expect(bomb.length).toBeLessThan(20_000);
    const result = checkImageDimensions(bomb);
    expect(!result.ok && result.reason).toContain('40 megapixels');
  });

  it('accepts 8,192 x 4,882 (just under 40 MP)', () => {
    expect(checkImageDimensions(pngWithHeader(8192, 4882)).ok).toBe(true);
  });

  it('refuses a JPEG signature followed by garbage', () => {
    const junk = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 7)]);
    expect(checkImageDimensions(junk).ok).toBe(false);
  });
});

describe('OpenAPI document', () => {
  const doc = buildOpenApiDocument() as any;

  it('describes the three vendor operations with both security schemes', () => {
    for (const path of ['detect-faces', 'get-face-embeddings', 'compare-face-embeddings']) {
      const op = doc.paths[`/v1/face-verification/${path}`].post;
      expect(op.security).toEqual([{ ApiKeyAuth: [] }, { BearerAuth: [] }]);
      expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '401', '404', '405', '413', '415', '429', '502', '503', '504']);
      expect(op.responses['400'].content['application/problem+json'].example.status).toBe(400);
    }
    expect(doc.components.securitySchemes.ApiKeyAuth).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization' });
    expect(doc.components.securitySchemes.BearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('GIVEN the compare operation WHEN its 400 is read THEN it speaks of embeddings, not images or maxFaceCount', () => {
    const compare = doc.paths['/v1/face-verification/compare-face-embeddings'].post.responses['400'];
    expect(compare.description).toMatch(/embedding1 or embedding2/);
    expect(JSON.stringify(compare)).not.toMatch(/image|maxFaceCount/i);
    const detect = doc.paths['/v1/face-verification/detect-faces'].post.responses['400'];
    expect(detect.description).toMatch(/JPEG\/PNG/);
  });

  it('GIVEN the document WHEN its Servers entry is read THEN it is an absolute base path, never ../..', () => {
    expect(doc.servers).toEqual([{ url: '/', description: 'This API' }]);
    expect((buildOpenApiDocument({ serverUrl: '/prod' }) as any).servers[0].url).toBe('/prod');
  });

  it('derives field rules from the zod schemas (nullable, bounds, default)', () => {
    const image = doc.components.schemas.Image;
    expect(image.properties.bytes.nullable).toBe(true);
    expect(image.properties.url).toMatchObject({ nullable: true, maxLength: 2048 });
    const request = doc.components.schemas.FaceImageRequest;
    expect(request.properties.maxFaceCount).toMatchObject({ type: 'integer', minimum: 1, maximum: 10, default: 1 });
    expect(request.required).toEqual(['image']);
    expect(doc.components.schemas.CompareFaceEmbeddingsResponse.properties.similarity).toMatchObject({ type: 'integer', minimum: -1, maximum: 100 });
    expect(doc.components.schemas.DetectFacesResponse.properties.faces.nullable).toBe(true);
  });
});
