/**
 * Suite 1, hostile input: at least 10,000 generated bodies per operation through
 * the real local gateway over HTTP (keep-alive, 25 in flight), in front of a fast
 * fake backend. Every answer must be what the contract predicts (zod schema,
 * limits, content types): a 200 matching the response schema or a 4xx problem;
 * never a 5xx, a hang or a dead process.
 *
 * Reproduce a failure with FC_SEED=<seed printed by fast-check>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompareFaceEmbeddingsResponseSchema,
  DetectFacesResponseSchema,
  GetFaceEmbeddingsResponseSchema,
  PATHS,
  VerifyFacesResponseSchema,
} from '../../lambda/shared/contract.js';
import { LIMITS } from '../../lambda/shared/limits.js';
import { loadScoreTable } from '../../lambda/shared/score-table.js';
import { ENGINE_SCORE_TABLE_PATH as EMBEDDED_SCORE_TABLE } from '../../local/engine/score.js';
import { startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { answerProblems, percentile, recordFigures } from '../helpers/reliability/answers.js';
import { createClient, type Client } from '../helpers/reliability/client.js';
import { startGatewayInProcess, type InProcessGateway } from '../helpers/reliability/gateway.js';
import { compareRequest, expectedAnswer, expectedVerifyAnswer, faceImageRequest, verifyFacesRequest, type Endpoint, type HostileRequest } from '../helpers/reliability/hostile.js';
import { makeImageKit, type ImageKit } from '../helpers/reliability/images.js';
import { installNetGuard, type NetGuard } from '../helpers/reliability/net-guard.js';

const KEY = 'hostile-suite-key-0123456789abcdef';
const BODIES_PER_ENDPOINT = 10_000;
const BATCH = 25;
/** An answer slower than this is a hang: the gateway's integration timeout is set to 5 s below. */
const HANG_MS = 8_000;

const FACE = { confidence: 0.97, boundingBox: { x: 10, y: 12, width: 80, height: 96 } };
const EMBEDDING = Array.from({ length: 128 }, (_, i) => Math.sin(i + 1) / 8);

// The gateway scores compares from the embedded engine's table; its length and zero-vector rules are the contract here.
const compareRules = loadScoreTable(EMBEDDED_SCORE_TABLE);

const ENDPOINTS: Record<Endpoint, { path: string; okSchema: typeof DetectFacesResponseSchema | typeof GetFaceEmbeddingsResponseSchema | typeof CompareFaceEmbeddingsResponseSchema }> = {
  detect: { path: PATHS.detectFaces, okSchema: DetectFacesResponseSchema },
  embed: { path: PATHS.getFaceEmbeddings, okSchema: GetFaceEmbeddingsResponseSchema },
  compare: { path: PATHS.compareFaceEmbeddings, okSchema: CompareFaceEmbeddingsResponseSchema },
};

describe('hostile input through the local gateway (fast fake backend)', () => {
  let guard: NetGuard;
  let backend: FakeBackend;
  let gw: InProcessGateway;
  let client: Client;
  let kit: ImageKit;
  const dnsQueries: string[] = [];

  beforeAll(async () => {
    guard = installNetGuard();
    kit = await makeImageKit();
    backend = await startFakeBackend((req, _body, res) => {
      const answer = req.url === PATHS.getFaceEmbeddings
        ? { faces: [{ face: FACE, embedding: EMBEDDING }], unprocessedFaceCount: 0 }
        : { faces: [FACE], unprocessedFaceCount: 0 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
    gw = await startGatewayInProcess(
      {
        API_KEYS: KEY,
        BACKEND_URL: backend.url,
        BACKEND_TIMEOUT_MS: '4000',
        INTEGRATION_TIMEOUT_MS: '5000',
        COMPARE_MODE: 'table',
        SCORE_TABLE: EMBEDDED_SCORE_TABLE,
        IMAGE_FETCH_TIMEOUT_MS: '2000',
      },
      // Every image.url host "resolves" to loopback, which the SSRF policy refuses: no DNS query, no connection.
      async (hostname) => {
        dnsQueries.push(hostname);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    );
    client = createClient(gw.url, { connections: BATCH, hangMs: HANG_MS, authorization: `ApiKey ${KEY}` });
  });

  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await backend?.close();
    guard?.uninstall();
  });

  const arbitraries = (): Record<Endpoint, fc.Arbitrary<HostileRequest>> => ({
    detect: faceImageRequest(kit),
    embed: faceImageRequest(kit),
    compare: compareRequest(),
  });

  it.each<Endpoint>(['detect', 'embed', 'compare'])(
    `%s: ${BODIES_PER_ENDPOINT.toLocaleString('en')} generated bodies each get the answer the contract predicts, never a 5xx or a hang`,
    async (endpoint) => {
      const { path, okSchema } = ENDPOINTS[endpoint];
      const statuses = new Map<number, number>();
      const latencies: number[] = [];
      const backendBefore = backend.received.length;
      let sent = 0;
      let expectedOk = 0;
      const started = performance.now();
      const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
      await fc.assert(
        fc.asyncProperty(fc.array(arbitraries()[endpoint], { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          const answers = await Promise.all(batch.map((req) => client.post(path, req.body, { contentType: req.contentType })));
          for (const [i, answer] of answers.entries()) {
            sent++;
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            latencies.push(answer.ms);
            const req = batch[i]!;
            const expected = expectedAnswer(endpoint, req, compareRules);
            if (expected.status === 200) expectedOk++;
            const problems = answerProblems(answer, { expected, okSchema });
            if (problems.length > 0) {
              const preview = (typeof req.body === 'string' ? req.body : req.body.toString('latin1')).slice(0, 300);
              throw new Error(`${problems.join('; ')}\n  shape: ${req.shape}\n  body (${req.body.length} chars): ${JSON.stringify(preview)}`);
            }
          }
        }),
        { numRuns: Math.ceil(BODIES_PER_ENDPOINT / BATCH), seed },
      );
      const seconds = (performance.now() - started) / 1000;
      const fiveXx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
      const refused = [...statuses].filter(([s]) => s >= 400 && s < 500).reduce((n, [, c]) => n + c, 0);
      recordFigures('hostile-input', {
        endpoint, sent, refused, ok: statuses.get(200) ?? 0, fiveXx,
        statuses: Object.fromEntries(statuses), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99),
        maxMs: Math.max(...latencies), seconds, reachedBackend: backend.received.length - backendBefore,
      });

      expect(sent).toBeGreaterThanOrEqual(BODIES_PER_ENDPOINT);
      expect(fiveXx).toBe(0);
      expect(statuses.get(0) ?? 0).toBe(0);
      // The generators must exercise both sides: valid bodies that pass and hostile ones that are refused.
      expect(expectedOk).toBeGreaterThan(sent * 0.05);
      expect(refused).toBeGreaterThan(sent * 0.3);
      expect(Math.max(...latencies)).toBeLessThan(HANG_MS);
    },
    120_000,
  );

  it(`verify-faces (extension): ${BODIES_PER_ENDPOINT.toLocaleString('en')} generated bodies (two hostile images each) get the answer the contract predicts, never a 5xx or a hang`, async () => {
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    const backendBefore = backend.received.length;
    let sent = 0;
    let expectedOk = 0;
    const started = performance.now();
    const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
    await fc.assert(
      fc.asyncProperty(fc.array(verifyFacesRequest(kit), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const answers = await Promise.all(batch.map((req) => client.post(PATHS.verifyFaces, req.body, { contentType: req.contentType })));
        for (const [i, answer] of answers.entries()) {
          sent++;
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          latencies.push(answer.ms);
          const req = batch[i]!;
          const expected = expectedVerifyAnswer(req);
          if (expected.status === 200) expectedOk++;
          const problems = answerProblems(answer, { expected, okSchema: VerifyFacesResponseSchema });
          if (problems.length > 0) {
            const preview = (typeof req.body === 'string' ? req.body : req.body.toString('latin1')).slice(0, 300);
            throw new Error(`${problems.join('; ')}\n  shape: ${req.shape}\n  body (${req.body.length} chars): ${JSON.stringify(preview)}`);
          }
        }
      }),
      { numRuns: Math.ceil(BODIES_PER_ENDPOINT / BATCH), seed },
    );
    const fiveXx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    const refused = [...statuses].filter(([s]) => s >= 400 && s < 500).reduce((n, [, c]) => n + c, 0);
    recordFigures('hostile-input', {
      endpoint: 'verify', sent, refused, ok: statuses.get(200) ?? 0, fiveXx,
      statuses: Object.fromEntries(statuses), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99),
      maxMs: Math.max(...latencies), seconds: (performance.now() - started) / 1000, reachedBackend: backend.received.length - backendBefore,
    });
    expect(sent).toBeGreaterThanOrEqual(BODIES_PER_ENDPOINT);
    expect(fiveXx).toBe(0);
    expect(statuses.get(0) ?? 0).toBe(0);
    expect(expectedOk).toBeGreaterThan(sent * 0.05);
    expect(refused).toBeGreaterThan(sent * 0.3);
    expect(Math.max(...latencies)).toBeLessThan(HANG_MS);
  }, 180_000);

  it('GIVEN verify-faces with a JSON body over Lambda\'s 6 MB THEN 413 problem, fast', async () => {
    const answer = await client.post(PATHS.verifyFaces, JSON.stringify({ image1: { bytes: 'A'.repeat(LIMITS.maxRequestBodyBytes / 2) }, image2: { bytes: 'A'.repeat(LIMITS.maxRequestBodyBytes / 2) } }));
    expect(answerProblems(answer, { expected: { status: 413, kinds: ['payload-too-large'] } })).toEqual([]);
    expect(answer.ms).toBeLessThan(3000);
  });

  it.each([
    ['a body over API Gateway\'s 10 MB (Content-Length)', () => Buffer.alloc(LIMITS.apiGatewayMaxBodyBytes + 1, 0x20), PATHS.detectFaces],
    ['a JSON body over Lambda\'s 6 MB', () => JSON.stringify({ image: { bytes: 'A'.repeat(LIMITS.maxRequestBodyBytes) } }), PATHS.getFaceEmbeddings],
    ['6 MB of embedding numbers', () => JSON.stringify({ embedding1: Array(1_600_000).fill(0.5), embedding2: [0.5] }), PATHS.compareFaceEmbeddings],
  ] as const)('GIVEN %s THEN 413 problem, fast', async (_name, make, path) => {
    const body = make();
    const answer = await client.post(path, body);
    expect(answerProblems(answer, { expected: { status: 413, kinds: ['payload-too-large'] } })).toEqual([]);
    expect(answer.ms).toBeLessThan(3000);
  });

  it('GIVEN a chunked body that grows past 10 MB (no Content-Length) THEN 413 without buffering it all', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    async function* endless() {
      for (let i = 0; i < 64; i++) yield chunk; // 64 MiB offered; the gateway must stop reading at 10 MB
    }
    const started = performance.now();
    const response = await fetch(`${gw.url}${PATHS.detectFaces}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `ApiKey ${KEY}` },
      body: endless() as never,
      duplex: 'half',
    } as RequestInit).catch((error: Error) => error);
    if (response instanceof Error) {
      // The gateway may close the connection before the client finished sending; it must still be alive.
      expect((await client.get('/health')).status).toBe(200);
    } else {
      expect(response.status).toBe(413);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    }
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('GIVEN valid bodies with real tiny images THEN 200 (the generators are not only noise)', async () => {
    for (const image of [kit.tinyJpeg, kit.tinyPng, kit.onePixelPng, kit.smallPhoto]) {
      const answer = await client.post(PATHS.detectFaces, JSON.stringify({ image: { bytes: image.toString('base64'), url: null }, maxFaceCount: 10 }));
      expect(answerProblems(answer, { expected: { status: 200 }, okSchema: DetectFacesResponseSchema })).toEqual([]);
    }
  });

  it('afterwards the gateway is alive, logged no unexpected error and made no connection off this machine', async () => {
    expect((await client.get('/health')).status).toBe(200);
    const levels = gw.logs.map((line) => (JSON.parse(line) as { level: string }).level);
    expect(levels.filter((level) => level === 'error')).toEqual([]);
    expect(guard.violations).toEqual([]);
    // Generated DNS names did reach the (scripted) resolver and were refused after it answered loopback.
    expect(dnsQueries.length).toBeGreaterThan(0);
  });
});
