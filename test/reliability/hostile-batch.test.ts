/**
 * Suite 1, hostile input, for compare-face-embeddings-batch (issue 11): generated bodies through
 * the real local gateway over HTTP (keep-alive, 25 in flight). Every answer must be what the
 * contract predicts: a 200 whose similarities are exactly the single compare's scores in order,
 * or a 4xx problem; never a 5xx, a hang, an echo of the input or a dead process. Table mode
 * (10,000 bodies) and forward mode against a scoring backend on 127.0.0.1 (1,000 bodies).
 *
 * Reproduce a failure with FC_SEED=<seed printed by fast-check>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompareFaceEmbeddingsBatchResponseSchema, PATHS } from '../../lambda/shared/contract.js';
import { LIMITS } from '../../lambda/shared/limits.js';
import { loadScoreTable, scoreEmbeddings } from '../../lambda/shared/score-table.js';
import { ENGINE_SCORE_TABLE_PATH as EMBEDDED_SCORE_TABLE } from '../../local/engine/score.js';
import { startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { answerProblems, percentile, recordFigures } from '../helpers/reliability/answers.js';
import { createClient, type Client } from '../helpers/reliability/client.js';
import { startGatewayInProcess, type InProcessGateway } from '../helpers/reliability/gateway.js';
import { compareBatchRequest, expectedBatchAnswer } from '../helpers/reliability/hostile-batch.js';
import { installNetGuard, type NetGuard } from '../helpers/reliability/net-guard.js';

const KEY = 'hostile-batch-key-0123456789abcdef';
const IN_FLIGHT = 25;
const HANG_MS = 8_000;
const table = loadScoreTable(EMBEDDED_SCORE_TABLE);

describe.each([
  ['table', 10_000],
  ['forward', 1_000],
] as const)('hostile batch bodies through the local gateway (%s mode)', (mode, bodies) => {
  let guard: NetGuard;
  let backend: FakeBackend;
  let gw: InProcessGateway;
  let client: Client;

  beforeAll(async () => {
    guard = installNetGuard();
    // Forward mode's container: the single compare, scored from the same table.
    backend = await startFakeBackend((req, body, res) => {
      // GET is the gateway's health probe.
      if (req.method !== 'POST') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
      const { embedding1, embedding2 } = JSON.parse(body.toString('utf8')) as { embedding1: number[]; embedding2: number[] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ similarity: scoreEmbeddings(table, embedding1, embedding2) }));
    });
    gw = await startGatewayInProcess({
      API_KEYS: KEY,
      BACKEND_URL: backend.url,
      BACKEND_TIMEOUT_MS: '4000',
      INTEGRATION_TIMEOUT_MS: '5000',
      COMPARE_MODE: mode,
      ...(mode === 'table' ? { SCORE_TABLE: EMBEDDED_SCORE_TABLE } : {}),
      // The gateway's own live check of a table against BACKEND_URL runs once an hour here.
      COMPARE_CHECK_INTERVAL_S: '3600',
    });
    client = createClient(gw.url, { connections: IN_FLIGHT, hangMs: HANG_MS, authorization: `ApiKey ${KEY}` });
  });

  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await backend?.close();
    guard?.uninstall();
  });

  it(`${bodies.toLocaleString('en')} generated bodies each get the answer the contract predicts (200 = the single compares, in order), never a 5xx or a hang`, async () => {
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    let sent = 0;
    let expectedOk = 0;
    let candidatesScored = 0;
    const started = performance.now();
    const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
    await fc.assert(
      fc.asyncProperty(fc.array(compareBatchRequest(), { minLength: IN_FLIGHT, maxLength: IN_FLIGHT }), async (batch) => {
        const answers = await Promise.all(batch.map((req) => client.post(PATHS.compareFaceEmbeddingsBatch, req.body, { contentType: req.contentType })));
        for (const [i, answer] of answers.entries()) {
          sent++;
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          latencies.push(answer.ms);
          const req = batch[i]!;
          const expected = expectedBatchAnswer(req, table);
          const problems = answerProblems(answer, { expected, okSchema: CompareFaceEmbeddingsBatchResponseSchema });
          if (expected.status === 200) {
            expectedOk++;
            if (answer.status === 200) {
              const got = (JSON.parse(answer.text) as { similarities: number[] }).similarities;
              if (JSON.stringify(got) !== JSON.stringify(expected.similarities)) problems.push(`similarities ${JSON.stringify(got).slice(0, 120)} != ${JSON.stringify(expected.similarities).slice(0, 120)}`);
              candidatesScored += got.length;
            }
          }
          if (problems.length > 0) {
            const preview = (typeof req.body === 'string' ? req.body : req.body.toString('latin1')).slice(0, 300);
            throw new Error(`${problems.join('; ')}\n  shape: ${req.shape}\n  body (${req.body.length} chars): ${JSON.stringify(preview)}`);
          }
        }
      }),
      { numRuns: Math.ceil(bodies / IN_FLIGHT), seed },
    );
    const fiveXx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    const refused = [...statuses].filter(([s]) => s >= 400 && s < 500).reduce((n, [, c]) => n + c, 0);
    recordFigures('hostile-input', {
      endpoint: `compare-batch (${mode})`, sent, refused, ok: statuses.get(200) ?? 0, fiveXx, candidatesScored,
      statuses: Object.fromEntries(statuses), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99),
      maxMs: Math.max(...latencies), seconds: (performance.now() - started) / 1000,
    });

    expect(sent).toBeGreaterThanOrEqual(bodies);
    expect(fiveXx).toBe(0);
    expect(statuses.get(0) ?? 0).toBe(0);
    // Both sides exercised: valid batches that are scored and hostile ones that are refused.
    expect(expectedOk).toBeGreaterThan(sent * 0.1);
    expect(refused).toBeGreaterThan(sent * 0.3);
    expect(Math.max(...latencies)).toBeLessThan(HANG_MS);
  }, 300_000);

  it.each([
    ['1,001 candidates', () => JSON.stringify({ embedding: [0.5, 0.25], embeddings: Array(1001).fill([0.25, 0.5]) }), 400, 'validation-error'],
    ['1,000 candidates of 4,096 numbers (over 10 MB)', () => JSON.stringify({ embedding: Array(4096).fill(0.5), embeddings: Array(1000).fill(Array(4096).fill(0.5)) }), 413, 'payload-too-large'],
    ['6 MB of numbers (over Lambda\'s limit, under API Gateway\'s)', () => JSON.stringify({ embedding: [0.5], embeddings: Array(1_600_000).fill([0.5]) }), 413, 'payload-too-large'],
    ['NaN strings', () => JSON.stringify({ embedding: ['NaN', 'NaN'], embeddings: [['NaN', 'Infinity']] }), 400, 'validation-error'],
    ['bare NaN tokens', () => '{"embedding":[NaN,1],"embeddings":[[1,NaN]]}', 400, 'invalid-json'],
    ['1e400 in a candidate', () => '{"embedding":[1,1],"embeddings":[[1,1],[1e400,1]]}', 400, 'validation-error'],
    ['nested junk 10,000 deep', () => `{"embedding":[1],"embeddings":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 400, 'validation-error'],
    ['a candidate of 4,097 numbers', () => JSON.stringify({ embedding: Array(4097).fill(0.5), embeddings: [Array(4097).fill(0.5)] }), 400, 'validation-error'],
  ] as ReadonlyArray<readonly [string, () => string, number, 'validation-error' | 'payload-too-large' | 'invalid-json']>)('GIVEN %s THEN the expected 4xx problem, fast', async (_name, make, status, kind) => {
    const body = make();
    const answer = await client.post(PATHS.compareFaceEmbeddingsBatch, body);
    expect(answerProblems(answer, { expected: { status, kinds: [kind] } })).toEqual([]);
    expect(answer.ms).toBeLessThan(5000);
    if (status === 413) expect(Buffer.byteLength(body)).toBeGreaterThan(LIMITS.maxRequestBodyBytes);
  });

  it('afterwards the gateway is alive, logged no unexpected error and made no connection off this machine', async () => {
    expect((await client.get('/health')).status).toBe(200);
    const levels = gw.logs.map((line) => (JSON.parse(line) as { level: string }).level);
    expect(levels.filter((level) => level === 'error')).toEqual([]);
    expect(guard.violations).toEqual([]);
  });
});
