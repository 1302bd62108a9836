/**
 * Swagger UI's "Try it out" works on the document's own examples: every request example
 * in the OpenAPI document, as served by the real local gateway (embedded engine), is
 * posted to the server URL the document names and gets its documented 200 answer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_IMAGE_BASE64 } from '../../lambda/shared/example-image.js';
import { apiBasePath } from '../../lambda/shared/docs.js';
import { PROJECT_DIR } from '../../lib/config.js';
import { getEvent } from '../helpers/events.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

describe('OpenAPI examples against npm start', () => {
  let gateway: TestGateway;
  let doc: any;
  beforeAll(async () => {
    gateway = await startTestGateway({});
    doc = await (await fetch(`${gateway.url}/swagger/v1/swagger.json`)).json();
  }, 60_000);
  afterAll(() => gateway.close());

  it('GIVEN the extensions WHEN the document is read THEN they are marked apart from the vendor operations', () => {
    const marked = Object.entries(doc.paths as Record<string, any>).filter(([, item]) => item.post['x-extension'] === true).map(([path]) => path);
    expect(marked).toEqual(['/v1/face-verification/verify-faces', '/v1/face-verification/compare-face-embeddings-batch']);
    for (const path of marked) {
      expect(doc.paths[path].post.tags).toEqual(['Extensions']);
      expect(doc.paths[path].post.summary).toMatch(/\(extension\)$/);
    }
  });

  it('GIVEN the served document WHEN its Servers entry is read THEN it is the gateway root, not ../..', () => {
    expect(doc.servers.map((s: { url: string }) => s.url)).toEqual(['/']);
  });

  it('GIVEN every operation WHEN its request example is posted as Swagger UI sends it THEN the answer is the documented 200', async () => {
    const operations = Object.entries(doc.paths as Record<string, any>).map(([path, item]) => ({ path, op: item.post }));
    expect(operations).toHaveLength(5);
    for (const { path, op } of operations) {
      const example = op.requestBody.content['application/json'].example;
      expect(example, `${path} has a request example`).toBeDefined();
      const url = new URL(`${doc.servers[0].url.replace(/\/$/, '')}${path}`, gateway.url);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `ApiKey ${gateway.apiKeys[0]}` },
        body: JSON.stringify(example),
      });
      const body = (await response.json()) as any;
      expect(response.status, `${path}: ${JSON.stringify(body).slice(0, 300)}`).toBe(200);
      expect(Object.keys(op.responses)).toContain(String(response.status));
      if (path.endsWith('detect-faces')) expect(body.faces).toHaveLength(1);
      if (path.endsWith('get-face-embeddings')) expect(body.faces[0].embedding.length).toBeGreaterThan(0);
      if (path.endsWith('compare-face-embeddings')) expect(Number.isInteger(body.similarity)).toBe(true);
      // The same photo twice: the same face, so the top score.
      if (path.endsWith('verify-faces')) expect(body).toMatchObject({ similarity: 100, unprocessedFaceCount1: 0, unprocessedFaceCount2: 0 });
      if (path.endsWith('compare-face-embeddings-batch')) expect(body.similarities).toHaveLength(example.embeddings.length);
    }
  }, 60_000);

  it('GIVEN the request schema WHEN its component example is read THEN it is the same working request', () => {
    expect(doc.components.schemas.FaceImageRequest.example).toEqual(doc.paths['/v1/face-verification/detect-faces'].post.requestBody.content['application/json'].example);
    expect(doc.components.schemas.VerifyFacesRequest.example).toEqual(doc.paths['/v1/face-verification/verify-faces'].post.requestBody.content['application/json'].example);
  });
});

describe('the example photo', () => {
  it('GIVEN docs/assets/example-face.jpg WHEN compared with the embedded base64 THEN they are the same JPEG, under 20 KB', () => {
    const file = readFileSync(join(PROJECT_DIR, 'docs', 'assets', 'example-face.jpg'));
    expect(Buffer.from(EXAMPLE_IMAGE_BASE64, 'base64').equals(file)).toBe(true);
    expect(file.length).toBeLessThan(20_000);
    expect(file.subarray(0, 3).toString('hex')).toBe('ffd8ff');
  });
});

describe('apiBasePath (the Servers entry)', () => {
  it('GIVEN the execute-api URL (stage in requestContext.path) WHEN the document is asked for THEN the server is /<stage>', () => {
    const event = getEvent('/swagger/v1/swagger.json');
    expect(apiBasePath({ ...event, requestContext: { ...event.requestContext, path: '/prod/swagger/v1/swagger.json' } })).toBe('/prod');
  });

  it('GIVEN a custom domain at the root or no requestContext path WHEN asked THEN the server is /', () => {
    const event = getEvent('/swagger/v1/swagger.json');
    expect(apiBasePath({ ...event, requestContext: { ...event.requestContext, path: '/swagger/v1/swagger.json' } })).toBe('/');
    expect(apiBasePath(event)).toBe('/');
  });
});
