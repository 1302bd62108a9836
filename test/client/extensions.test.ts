/**
 * The client's two extension methods (verifyFaces, compareFaceEmbeddingsBatch).
 *
 * 1. Against a small real HTTP server on 127.0.0.1 that validates requests with the contract's own
 *    zod schemas (the problem bodies are the real ApiError ones) and answers the documented shapes:
 *    these run on every branch.
 * 2. Against the real local gateway: these need the gateway routes of the two extensions (issue 11
 *    points 1 and 2, built on other branches). EXTENSION_ROUTES_ON_GATEWAY turns them on once merged.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceVerificationClient, FaceVerificationError, imageFromBuffer, imageFromUrl } from '../../client/node.js';
import { MAX_BATCH_EMBEDDINGS, PATHS } from '../../lambda/shared/contract.js';
import { loadScoreTable, scoreEmbeddings } from '../../lambda/shared/score-table.js';
import { ENGINE_SCORE_TABLE_PATH } from '../../local/engine/score.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/images.js';
import { startContractServer, type ContractServer } from './contract-server.js';

/**
 * Set to true when the local gateway serves verify-faces and compare-face-embeddings-batch
 * (the merge of issue 11's gateway branches); until then those routes answer 404 here.
 */
const EXTENSION_ROUTES_ON_GATEWAY = true;

const KEY = 'extension-test-key-0123456789';

describe('extension methods against a server speaking the documented contract', () => {
  let server: ContractServer;
  let url: string;
  const table = loadScoreTable(ENGINE_SCORE_TABLE_PATH);

  beforeAll(async () => {
    server = await startContractServer();
    url = server.url;
  });
  afterAll(async () => {
    await server?.close();
  });
  const received = () => server.received;

  it('GIVEN two images (bytes and url) WHEN verifyFaces THEN the request has the documented shape and the answer comes back typed', async () => {
    received().length = 0;
    const client = new FaceVerificationClient({ baseUrl: url, apiKey: KEY });
    const answer = await client.verifyFaces({ image1: imageFromBuffer(sample(1)), image2: imageFromUrl('https://example.com/id.jpg') });
    expect(answer.similarity).toBe(91);
    expect(answer.face2.boundingBox.width).toBe(70);
    expect(answer.unprocessedFaceCount2).toBe(2);
    expect(received()).toEqual([{ path: PATHS.verifyFaces, authorization: `ApiKey ${KEY}`, body: { image1: { bytes: sample(1).toString('base64') }, image2: { url: 'https://example.com/id.jpg' } } }]);
  });

  it('GIVEN an invalid image2 WHEN verifyFaces THEN the 400 problem names image2', async () => {
    const client = new FaceVerificationClient({ baseUrl: url, apiKey: KEY });
    const error = (await client.verifyFaces({ image1: imageFromBuffer(sample(1)), image2: imageFromBuffer(Buffer.from('plain text')) }).catch((e: unknown) => e)) as FaceVerificationError;
    expect(error).toBeInstanceOf(FaceVerificationError);
    expect(error.status).toBe(400);
    expect(error.errors.map((e) => e.field)).toEqual(['image2.bytes']);
    expect(error.requestId).toMatch(/^rid-/);
  });

  it('GIVEN a probe and 1,000 candidates WHEN compareFaceEmbeddingsBatch THEN one similarity per candidate, in order, each the compare score', async () => {
    const client = new FaceVerificationClient({ baseUrl: url, apiKey: KEY });
    const probe = Array.from({ length: 128 }, (_, i) => Math.sin(i + 1));
    const candidates = Array.from({ length: MAX_BATCH_EMBEDDINGS }, (_, k) => probe.map((v, i) => v + Math.cos(i * (k + 1)) * (k / MAX_BATCH_EMBEDDINGS)));
    const { similarities } = await client.compareFaceEmbeddingsBatch({ embedding: probe, embeddings: candidates });
    expect(similarities).toHaveLength(MAX_BATCH_EMBEDDINGS);
    expect(similarities[0]).toBe(scoreEmbeddings(table, probe, candidates[0]!));
    expect(similarities).toEqual(candidates.map((c) => scoreEmbeddings(table, probe, c)));
    // Candidates further from the probe score lower: the order was kept.
    expect(similarities[0]!).toBeGreaterThan(similarities[MAX_BATCH_EMBEDDINGS - 1]!);
  });

  it('GIVEN a candidate of another length WHEN compareFaceEmbeddingsBatch THEN the 400 problem names embeddings[1]', async () => {
    const client = new FaceVerificationClient({ baseUrl: url, apiKey: KEY });
    const error = (await client.compareFaceEmbeddingsBatch({ embedding: [1, 2, 3], embeddings: [[1, 2, 3], [1, 2]] }).catch((e: unknown) => e)) as FaceVerificationError;
    expect(error.status).toBe(400);
    expect(error.errors).toEqual([{ field: 'embeddings[1]', reason: 'must have the same length as embedding (3), got 2' }]);
  });

  it('GIVEN an answer with fewer similarities than candidates WHEN compareFaceEmbeddingsBatch THEN it is refused as not the API\'s answer', async () => {
    const short = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"similarities":[1]}'));
    await new Promise<void>((resolve) => short.listen(0, '127.0.0.1', resolve));
    try {
      const client = new FaceVerificationClient({ baseUrl: `http://127.0.0.1:${(short.address() as AddressInfo).port}` });
      await expect(client.compareFaceEmbeddingsBatch({ embedding: [1], embeddings: [[1], [2]] })).rejects.toMatchObject({ name: 'FaceVerificationResponseError' });
    } finally {
      short.close();
    }
  });
});

describe.skipIf(!EXTENSION_ROUTES_ON_GATEWAY)('extension methods against the real gateway (needs the issue 11 gateway routes)', () => {
  let gw: TestGateway;
  let client: FaceVerificationClient;
  beforeAll(async () => {
    gw = await startTestGateway({ API_KEYS: KEY });
    client = new FaceVerificationClient({ baseUrl: gw.url, apiKey: KEY });
  });
  afterAll(async () => {
    await gw?.close();
  });

  async function largest(n: number): Promise<number[]> {
    const answer = await client.getFaceEmbeddings({ image: imageFromBuffer(sample(n)), maxFaceCount: 1 });
    return answer.faces![0]!.embedding!;
  }

  it('GIVEN two photos WHEN verifyFaces THEN the similarity equals compare-face-embeddings of their largest faces', async () => {
    const answer = await client.verifyFaces({ image1: imageFromBuffer(sample(2)), image2: imageFromBuffer(sample(3)) });
    const [e2, e3] = [await largest(2), await largest(3)];
    expect(answer.similarity).toBe((await client.compareFaceEmbeddings({ embedding1: e2, embedding2: e3 })).similarity);
    expect((await client.verifyFaces({ image1: imageFromBuffer(sample(2)), image2: imageFromBuffer(sample(2)) })).similarity).toBe(100);
  });

  it('GIVEN an image without a face as image2 WHEN verifyFaces THEN a 400 naming image2', async () => {
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg().toBuffer();
    const error = (await client.verifyFaces({ image1: imageFromBuffer(sample(2)), image2: imageFromBuffer(blank) }).catch((e: unknown) => e)) as FaceVerificationError;
    expect(error).toBeInstanceOf(FaceVerificationError);
    expect(error.status).toBe(400);
    expect(`${error.detail} ${error.errors.map((e) => e.field).join(' ')}`).toMatch(/image2/);
  });

  it('GIVEN a probe and candidates WHEN compareFaceEmbeddingsBatch THEN each similarity equals compare-face-embeddings for that pair', async () => {
    const [e2, e3, e4] = [await largest(2), await largest(3), await largest(4)];
    const { similarities } = await client.compareFaceEmbeddingsBatch({ embedding: e2, embeddings: [e2, e3, e4] });
    const singles = [];
    for (const e of [e2, e3, e4]) singles.push((await client.compareFaceEmbeddings({ embedding1: e2, embedding2: e })).similarity);
    expect(similarities).toEqual(singles);
  });
});
