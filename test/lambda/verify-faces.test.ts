import type { IncomingMessage, ServerResponse } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBackendClient, type BackendClient } from '../../lambda/shared/backend-client.js';
import { createCompareHandler } from '../../lambda/shared/compare.js';
import { PATHS, VerifyFacesResponseSchema } from '../../lambda/shared/contract.js';
import type { ImageUrlFetcher } from '../../lambda/shared/image-source.js';
import { ApiError } from '../../lambda/shared/problem.js';
import { loadScoreTable } from '../../lambda/shared/score-table.js';
import { ENGINE_SCORE_TABLE_PATH } from '../../local/engine/score.js';
import { createVerifyFacesHandler, type VerifyFacesDeps } from '../../lambda/shared/verify-faces.js';
import { startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { postEvent } from '../helpers/events.js';
import { pngWithHeader, sample } from '../helpers/images.js';
import { recordingLogger } from '../helpers/logs.js';
import { floorTable } from '../helpers/score-tables.js';


const jpeg1 = sample(1);
const jpeg2 = sample(2);
const b64 = (bytes: Buffer) => bytes.toString('base64');
// Distinctive embeddings: a log or an answer holding one of them is found by its digits.
const EMBEDDING_1 = [0.1234567, 0.7654321, 0.3141592];
const EMBEDDING_2 = [0.2718281, 0.1618033, 0.5772156];
const face1 = { confidence: 0.99, boundingBox: { x: 1, y: 2, width: 30, height: 40 } };
const face2 = { confidence: 0.95, boundingBox: { x: 5, y: 6, width: 70, height: 80 } };

interface Scripted {
  /** Answer for image bytes: status + body, or a delay before answering. */
  embeddings: (bytesB64: string) => { status: number; body: unknown; delayMs?: number };
  compare: () => { status: number; body: unknown; delayMs?: number };
}

describe('verify-faces handler', () => {
  let backend: FakeBackend;
  let client: BackendClient;
  const logger = recordingLogger();
  const fetched: string[] = [];
  const fetcher: ImageUrlFetcher = {
    async fetch(url) {
      fetched.push(url);
      if (url.includes('refused')) {
        throw new ApiError('image-url-rejected', 'image.url resolves to a loopback address', { errors: [{ field: 'image.url', reason: 'resolves to a loopback address' }] });
      }
      if (url.includes('bomb')) return pngWithHeader(9000, 100);
      return url.includes('two') ? jpeg2 : jpeg1;
    },
  };
  let script: Scripted;
  let inFlight = 0;
  let maxInFlight = 0;
  const defaultScript = (): Scripted => ({
    embeddings: (bytes) =>
      bytes === b64(jpeg1)
        ? { status: 200, body: { faces: [{ face: face1, embedding: EMBEDDING_1 }], unprocessedFaceCount: 2 } }
        : { status: 200, body: { faces: [{ face: face2, embedding: EMBEDDING_2 }], unprocessedFaceCount: 0 } },
    compare: () => ({ status: 200, body: { similarity: 42 } }),
  });
  const behaviour = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    const parsed = JSON.parse(body.toString('utf8')) as { image?: { bytes: string } };
    const answer = req.url === PATHS.getFaceEmbeddings ? script.embeddings(parsed.image!.bytes) : script.compare();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      if (!res.destroyed) res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    }, answer.delayMs ?? 0);
  };
  const handlerWith = (scoring: VerifyFacesDeps['scoring'], extra: Partial<VerifyFacesDeps> = {}) =>
    createVerifyFacesHandler({ backend: client, imageFetcher: fetcher, scoring, logger, ...extra });
  const table = () => handlerWith({ mode: 'table', table: floorTable, logger });

  beforeAll(async () => {
    backend = await startFakeBackend(behaviour);
    client = createBackendClient({ baseUrl: backend.url, timeoutMs: 2_000 });
  });
  afterAll(async () => {
    await client.close();
    await backend.close();
  });
  beforeEach(() => {
    backend.received.length = 0;
    fetched.length = 0;
    logger.lines.length = 0;
    script = defaultScript();
    inFlight = 0;
    maxInFlight = 0;
  });

  it('GIVEN two images THEN embeds each with maxFaceCount 1 and answers the table score with both faces', async () => {
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1), url: null }, image2: { bytes: b64(jpeg2) } }));
    expect(result.statusCode).toBe(200);
    const body = VerifyFacesResponseSchema.parse(JSON.parse(result.body));
    // The same number compare-face-embeddings answers for the pair with the same table.
    const compare = createCompareHandler({ mode: 'table', table: floorTable, logger });
    const compared = JSON.parse((await compare(postEvent(PATHS.compareFaceEmbeddings, { embedding1: EMBEDDING_1, embedding2: EMBEDDING_2 }))).body);
    expect(body).toEqual({ similarity: compared.similarity, face1, face2, unprocessedFaceCount1: 2, unprocessedFaceCount2: 0 });
    expect(body.similarity).toBe(61); // floor(100 * 0.6152), the cosine of the two vectors above
    const embedCalls = backend.received.filter((r) => r.path === PATHS.getFaceEmbeddings);
    expect(embedCalls.map((r) => r.body)).toEqual(expect.arrayContaining([{ image: { bytes: b64(jpeg1) }, maxFaceCount: 1 }, { image: { bytes: b64(jpeg2) }, maxFaceCount: 1 }]));
    expect(backend.received.filter((r) => r.path === PATHS.compareFaceEmbeddings)).toHaveLength(0);
    // Embeddings never leave the server: not in the answer, not in a log line.
    expect(result.body).not.toContain('1234567');
    expect(logger.text()).not.toContain('1234567');
    expect(logger.text()).not.toContain('2718281');
    expect(logger.text()).not.toContain(b64(jpeg1).slice(0, 40));
  });

  it('GIVEN 200 random embedding pairs and the embedded engine\'s real table THEN verify-faces answers exactly what compare-face-embeddings answers', async () => {
    const engineTable = loadScoreTable(ENGINE_SCORE_TABLE_PATH);
    const length = engineTable.dimension ?? 128;
    const verify = handlerWith({ mode: 'table', table: engineTable, logger });
    const compare = createCompareHandler({ mode: 'table', table: engineTable, logger });
    const vector = fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: length, maxLength: length }).filter((v) => v.some((x) => x !== 0));
    await fc.assert(
      fc.asyncProperty(vector, vector, fc.boolean(), async (a, b, near) => {
        // Half of the pairs close together, so high scores are exercised too.
        const second = near ? a.map((x, i) => x + b[i]! / 20) : b;
        script.embeddings = (bytes) => ({ status: 200, body: { faces: [{ face: face1, embedding: bytes === b64(jpeg1) ? a : second }], unprocessedFaceCount: 0 } });
        const verified = await verify(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }));
        const compared = await compare(postEvent(PATHS.compareFaceEmbeddings, { embedding1: a, embedding2: second }));
        expect(verified.statusCode).toBe(200);
        expect(JSON.parse(verified.body).similarity).toBe(JSON.parse(compared.body).similarity);
      }),
      { numRuns: 200 },
    );
  }, 60_000);

  it('GIVEN both images THEN the two backend calls are in flight at the same time', async () => {
    const slow = defaultScript();
    script = { ...slow, embeddings: (bytes) => ({ ...slow.embeddings(bytes), delayMs: 300 }) };
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }));
    expect(result.statusCode).toBe(200);
    // The backend held both requests open at once (each answers after 300 ms): they overlapped.
    expect(maxInFlight).toBe(2);
  });

  it('GIVEN forward mode THEN the two embeddings go to the backend compare and its similarity is answered', async () => {
    const result = await handlerWith({ mode: 'forward', backend: client, logger })(
      postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }),
    );
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).similarity).toBe(42);
    const compares = backend.received.filter((r) => r.path === PATHS.compareFaceEmbeddings);
    expect(compares.map((r) => r.body)).toEqual([{ embedding1: EMBEDDING_1, embedding2: EMBEDDING_2 }]);
  });

  it('GIVEN table mode whose live check says forward THEN the backend compare answers, as compare-face-embeddings does', async () => {
    let forwarding = true;
    const handler = handlerWith({ mode: 'table', table: floorTable, logger, fallback: { backend: client, forwarding: () => forwarding } });
    const event = () => postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } });
    expect(JSON.parse((await handler(event())).body).similarity).toBe(42);
    forwarding = false;
    expect(JSON.parse((await handler(event())).body).similarity).toBe(61);
  });

  it('GIVEN urls THEN both are downloaded through the fetcher and the downloaded bytes are embedded', async () => {
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { url: 'https://images.example/one.jpg' }, image2: { url: 'https://images.example/two.jpg' } }));
    expect(result.statusCode).toBe(200);
    expect(fetched.sort()).toEqual(['https://images.example/one.jpg', 'https://images.example/two.jpg']);
    expect(JSON.parse(result.body).face2).toEqual(face2);
  });

  it('GIVEN image2 without a face THEN 400 naming image2 "no face found"', async () => {
    script.embeddings = (bytes) =>
      bytes === b64(jpeg1) ? defaultScript().embeddings(bytes) : { status: 200, body: { faces: [], unprocessedFaceCount: 0 } };
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }));
    expect(result.statusCode).toBe(400);
    expect(result.headers?.['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(result.body);
    expect(problem).toMatchObject({ status: 400, detail: 'image2: no face found', errors: [{ field: 'image2', reason: 'no face found' }] });
  });

  it('GIVEN no face on either image (faces null and empty) THEN 400 naming both', async () => {
    script.embeddings = (bytes) => ({ status: 200, body: { faces: bytes === b64(jpeg1) ? null : [], unprocessedFaceCount: 0 } });
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).errors).toEqual([{ field: 'image1', reason: 'no face found' }, { field: 'image2', reason: 'no face found' }]);
  });

  it('GIVEN both images invalid THEN one 400 naming both fields and no backend call', async () => {
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: 'not base64!' }, image2: { url: 'ftp://x' } }));
    expect(result.statusCode).toBe(400);
    const fields = JSON.parse(result.body).errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['image1.bytes', 'image2.url']));
    expect(backend.received).toHaveLength(0);
  });

  it('GIVEN a missing image2 and a decompression bomb THEN each is named, no backend call', async () => {
    const missing = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) } }));
    expect(missing.statusCode).toBe(400);
    expect(JSON.parse(missing.body).errors).toEqual([{ field: 'image2', reason: 'is required' }]);
    const bombs = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: pngWithHeader(9000, 100).toString('base64') }, image2: { url: 'https://images.example/bomb.png' } }));
    expect(bombs.statusCode).toBe(400);
    const errors = JSON.parse(bombs.body).errors as Array<{ field: string; reason: string }>;
    expect(errors.map((e) => e.field)).toEqual(['image1.bytes', 'image2.url']);
    expect(errors[1]!.reason).toMatch(/^the downloaded image is 9000x100 px/);
    expect(backend.received).toHaveLength(0);
  });

  it('GIVEN a refused image2.url THEN the fetcher error names image2.url and no backend call is made', async () => {
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { url: 'http://refused.example/a.jpg' } }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body)).toMatchObject({
      type: 'urn:face-verification:problem:image-url-rejected',
      detail: 'image2.url resolves to a loopback address',
      errors: [{ field: 'image2.url', reason: 'resolves to a loopback address' }],
    });
    expect(backend.received).toHaveLength(0);
  });

  it('GIVEN the backend refuses image1 THEN 400 naming image1.bytes', async () => {
    script.embeddings = (bytes) =>
      bytes === b64(jpeg1) ? { status: 400, body: { status: 400, title: 'bad', detail: 'cannot decode' } } : defaultScript().embeddings(bytes);
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).errors).toEqual([{ field: 'image1.bytes', reason: 'could not be decoded or processed by the face engine' }]);
  });

  it('GIVEN the backend is overloaded for image2 THEN 503 with Retry-After whose detail names image2', async () => {
    script.embeddings = (bytes) => (bytes === b64(jpeg1) ? defaultScript().embeddings(bytes) : { status: 503, body: {} });
    const result = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }));
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(result.body).detail).toMatch(/^image2: /);
  });

  it('GIVEN a backend slower than the request budget THEN our 504 problem, naming the step', async () => {
    script.embeddings = (bytes) => ({ ...defaultScript().embeddings(bytes), delayMs: 1_500 });
    const result = await handlerWith({ mode: 'table', table: floorTable, logger }, { integrationTimeoutMs: 400 })(
      postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }),
    );
    expect(result.statusCode).toBe(504);
    expect(JSON.parse(result.body).detail).toMatch(/time budget \(waiting for the backend \(image[12]\)\)/);
  });

  it('GIVEN a backend face without embedding, or a table of another dimension THEN 502, never the embedding', async () => {
    script.embeddings = () => ({ status: 200, body: { faces: [{ face: face1, embedding: null }], unprocessedFaceCount: 0 } });
    const noEmbedding = await table()(postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }));
    expect(noEmbedding.statusCode).toBe(502);
    script = defaultScript();
    const other = await handlerWith({ mode: 'table', table: { ...floorTable, dimension: 512 }, logger })(
      postEvent(PATHS.verifyFaces, { image1: { bytes: b64(jpeg1) }, image2: { bytes: b64(jpeg2) } }),
    );
    expect(other.statusCode).toBe(502);
    expect(JSON.parse(other.body).detail).toBe('The face embeddings could not be compared (the score table expects 512 numbers, the backend answered 3).');
    expect(other.body).not.toContain('1234567');
  });
});
