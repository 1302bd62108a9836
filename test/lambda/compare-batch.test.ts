/**
 * compare-face-embeddings-batch (issue 11 point 2): the fast path agrees with the schema; every
 * similarity equals the single compare's answer (10,000 random pairs, table mode, through the real
 * handlers); forward mode keeps the order and the concurrency bound against a real HTTP backend on
 * 127.0.0.1, and runs out of budget as a 504 with a body, never a partial answer.
 */
import fc from 'fast-check';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackendClient } from '../../lambda/shared/backend-client.js';
import { createCompareHandler, type CompareDeps } from '../../lambda/shared/compare.js';
import {
  createCompareBatchHandler,
  createCompareRoutesHandler,
  DEFAULT_BATCH_CONCURRENCY,
  isBatchEvent,
  parseCompareBatchRequest,
} from '../../lambda/shared/compare-batch.js';
import { compareBatchOptionsFromEnv } from '../../lambda/shared/compare-env.js';
import { CompareFaceEmbeddingsBatchRequestSchema, CompareFaceEmbeddingsBatchResponseSchema, MAX_BATCH_EMBEDDINGS, PATHS } from '../../lambda/shared/contract.js';
import { rng } from '../../lambda/shared/embedding-vectors.js';
import { LIMITS } from '../../lambda/shared/limits.js';
import { scoreEmbeddings, type ScoreTable } from '../../lambda/shared/score-table.js';
import { loadEngineScoreTable } from '../../local/engine/score.js';
import { answerJson, startFakeBackend, type Behaviour, type FakeBackend } from '../helpers/fake-backend.js';
import { postEvent } from '../helpers/events.js';
import { recordingLogger } from '../helpers/logs.js';
import { floorTable } from '../helpers/score-tables.js';

const BATCH = PATHS.compareFaceEmbeddingsBatch;
const SINGLE = PATHS.compareFaceEmbeddings;



/** Random vectors with the awkward cases: zero vectors, negatives, tiny and huge magnitudes, near-duplicates. */
function vectorMaker(random: () => number) {
  const scales = [1, 1e-300, 1e300, 1e-8, 1e8, 5e-324, 1.7e308];
  return (length: number, near?: number[]): number[] => {
    const kind = random();
    if (kind < 0.04) return new Array<number>(length).fill(0);
    if (kind < 0.08) return Array.from({ length }, (_, i) => (i === Math.floor(random() * length) ? -scales[Math.floor(random() * scales.length)]! : 0));
    const scale = scales[Math.floor(random() * scales.length)]!;
    // Shrinking towards zero (never growing), so a near-duplicate of a huge vector stays finite.
    if (near && kind < 0.4) return near.map((x) => (x === 0 ? (random() - 0.5) * 0.2 * scale : x * (1 - random() * 0.2)));
    return Array.from({ length }, () => (random() < 0.05 ? 0 : (random() * 2 - 1) * scale));
  };
}

describe('parseCompareBatchRequest fast path', () => {
  const number = fc.oneof(fc.double(), fc.integer(), fc.constant(Number.POSITIVE_INFINITY), fc.constant(Number.NaN));
  const embedding = fc.oneof(
    fc.array(number, { minLength: 0, maxLength: 4 }),
    fc.constant(null),
    fc.string(),
    fc.constant(undefined),
    fc.array(fc.oneof(fc.string(), fc.double(), fc.constant(null)), { maxLength: 3 }),
  );
  const candidates = fc.oneof(fc.array(embedding, { minLength: 0, maxLength: 4 }), fc.constant(null), fc.constant(undefined), fc.string(), embedding);

  it('GIVEN any body WHEN parsed THEN it accepts exactly what the zod schema accepts, with the same result', () => {
    fc.assert(
      fc.property(embedding, candidates, fc.boolean(), (probe, list, extra) => {
        const body = { embedding: probe, embeddings: list, ...(extra ? { other: 1 } : {}) };
        const viaSchema = CompareFaceEmbeddingsBatchRequestSchema.safeParse(body);
        let viaFast: unknown;
        let fastError: unknown;
        try {
          viaFast = parseCompareBatchRequest(body);
        } catch (error) {
          fastError = error;
        }
        if (viaSchema.success) return fastError === undefined && JSON.stringify(viaFast) === JSON.stringify(viaSchema.data);
        return fastError !== undefined;
      }),
      { numRuns: 5000 },
    );
  });

  it('GIVEN the candidate-count bounds WHEN parsed THEN 1 and 1,000 pass and 0 and 1,001 are 400s naming embeddings', () => {
    expect(parseCompareBatchRequest({ embedding: [1], embeddings: [[1]] }).embeddings).toHaveLength(1);
    expect(parseCompareBatchRequest({ embedding: [1], embeddings: Array.from({ length: MAX_BATCH_EMBEDDINGS }, () => [1]) }).embeddings).toHaveLength(1000);
    expect(() => parseCompareBatchRequest({ embedding: [1], embeddings: [] })).toThrow(/^embeddings: must hold at least 1 embedding/);
    expect(() => parseCompareBatchRequest({ embedding: [1], embeddings: Array.from({ length: 1001 }, () => [1]) })).toThrow(/^embeddings: must hold at most 1000 embeddings/);
    expect(() => parseCompareBatchRequest({ embedding: [1, 2], embeddings: [[1, 2], [1]] })).toThrow(/^embeddings\[1\]: must have the same length as embedding \(2\), got 1/);
  });
});

describe('table mode: every similarity equals compare-face-embeddings', () => {
  const logger = recordingLogger();

  for (const [name, table] of [
    ['the embedded engine table', loadEngineScoreTable()],
    ['a floor(100 cos) table', floorTable],
  ] as const) {
    it(`GIVEN 10,000 random pairs (${name}) WHEN sent as batches through the real handlers THEN each similarity equals the single compare's`, async () => {
      const handler = createCompareRoutesHandler({ mode: 'table', table, logger });
      const random = rng(name.length * 7919);
      const vector = vectorMaker(random);
      let pairs = 0;
      let zeroPairs = 0;
      const seen = new Set<number>();
      while (pairs < 10_000) {
        const length = 1 + Math.floor(random() ** 3 * 600);
        const count = Math.min(10_000 - pairs, 1 + Math.floor(random() * 250));
        const probe = vector(length);
        const embeddings = Array.from({ length: count }, () => vector(length, probe));
        const batch = await handler(postEvent(BATCH, { embedding: probe, embeddings }));
        expect(batch.statusCode, batch.body.slice(0, 200)).toBe(200);
        const { similarities } = CompareFaceEmbeddingsBatchResponseSchema.parse(JSON.parse(batch.body));
        expect(similarities).toHaveLength(count);
        for (let i = 0; i < count; i++) {
          // The single operation, through the same routes handler, on the same JSON as a client sends it.
          const single = await handler(postEvent(SINGLE, { embedding1: probe, embedding2: embeddings[i] }));
          expect(single.statusCode).toBe(200);
          expect(similarities[i], `pair ${pairs + i}`).toBe(JSON.parse(single.body).similarity);
          if (probe.every((x) => x === 0) || embeddings[i]!.every((x) => x === 0)) zeroPairs++;
          seen.add(similarities[i]!);
        }
        pairs += count;
      }
      // The pairs covered the score range and the zero-vector rule, not one corner of it.
      expect(zeroPairs).toBeGreaterThan(100);
      expect(seen.size).toBeGreaterThan(table === floorTable ? 60 : 30);
    }, 120_000);
  }

  it('GIVEN a table that refuses zero vectors WHEN a candidate or the probe is zero THEN 400 naming it, as the single compare refuses', async () => {
    const table = { ...floorTable, zeroVector: 'refuse' as const };
    const handler = createCompareRoutesHandler({ mode: 'table', table, logger });
    const candidate = await handler(postEvent(BATCH, { embedding: [1, 0], embeddings: [[1, 0], [0, 0]] }));
    expect(candidate.statusCode).toBe(400);
    expect(JSON.parse(candidate.body)).toMatchObject({ detail: expect.stringMatching(/^embedding\/embeddings\[1\]: must not be a zero vector/), errors: [{ field: 'embeddings[1]' }] });
    const probe = await handler(postEvent(BATCH, { embedding: [0, 0], embeddings: [[1, 0]] }));
    expect(JSON.parse(probe.body).errors[0].field).toBe('embedding');
    expect((await handler(postEvent(SINGLE, { embedding1: [1, 0], embedding2: [0, 0] }))).statusCode).toBe(400);
  });

  it('GIVEN a table with a dimension WHEN the batch has another length THEN 400 naming embedding', async () => {
    const handler = createCompareRoutesHandler({ mode: 'table', table: { ...floorTable, dimension: 3 }, logger });
    const result = await handler(postEvent(BATCH, { embedding: [1, 0], embeddings: [[1, 0]] }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).errors[0]).toEqual({ field: 'embedding', reason: "must have 3 numbers (the backend's embedding size), got 2" });
  });

  it('GIVEN 512-d embeddings WHEN sized as docs/api.md says THEN about 570 fit at full double precision, 600 do not, and 1,000 fit at 6 decimals', async () => {
    const handler = createCompareRoutesHandler({ mode: 'table', table: floorTable, logger });
    const random = rng(512);
    const unit = () => {
      const v = Array.from({ length: 512 }, () => random() * 2 - 1);
      const n = Math.hypot(...v);
      // Float32 values as JavaScript doubles: what JSON.stringify of a model's float32 output prints (~20 characters each).
      return Array.from(new Float32Array(v.map((x) => x / n)));
    };
    const probe = unit();
    const pool = Array.from({ length: 1000 }, unit);
    const status = async (embeddings: number[][]) => (await handler(postEvent(BATCH, { embedding: probe, embeddings }))).statusCode;
    expect(await status(pool.slice(0, 570))).toBe(200);
    expect(await status(pool.slice(0, 600))).toBe(413);
    const six = (v: number[]) => v.map((x) => Math.round(x * 1e6) / 1e6);
    const rounded = JSON.stringify({ embedding: six(probe), embeddings: pool.map(six) });
    expect(rounded.length).toBeLessThan(LIMITS.maxRequestBodyBytes);
    expect((await handler(postEvent(BATCH, rounded))).statusCode).toBe(200);
  });

  it('GIVEN 1,000 candidates of 4,096 numbers WHEN posted THEN 413 saying the body limit, and nothing of the body in the log', async () => {
    const handler = createCompareRoutesHandler({ mode: 'table', table: floorTable, logger });
    const row = Array.from({ length: 4096 }, (_, i) => ((i % 97) + 0.123456) / 100);
    const body = JSON.stringify({ embedding: row, embeddings: Array.from({ length: 1000 }, () => row) });
    expect(body.length).toBeGreaterThan(LIMITS.maxRequestBodyBytes);
    const result = await handler(postEvent(BATCH, body));
    expect(result.statusCode).toBe(413);
    expect(JSON.parse(result.body).detail).toBe(`The request body must be at most ${LIMITS.maxRequestBodyBytes} bytes.`);
    expect(logger.text()).not.toContain('0.01123456');
  });
});

/** A backend scoring like the engine, answering each compare after a random delay, counting calls in flight. */
function scoringBackend(table: ScoreTable, random: () => number, maxDelayMs: number) {
  const state = { inFlight: 0, maxInFlight: 0, calls: 0 };
  const behaviour: Behaviour = (_req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    state.inFlight++;
    state.calls++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const { embedding1, embedding2 } = JSON.parse(body.toString('utf8')) as { embedding1: number[]; embedding2: number[] };
    setTimeout(() => {
      state.inFlight--;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ similarity: scoreEmbeddings(table, embedding1, embedding2) }));
    }, Math.floor(random() * maxDelayMs));
  };
  return { state, behaviour };
}

describe('forward mode against a real backend on 127.0.0.1', () => {
  const logger = recordingLogger();
  let backend: FakeBackend;
  const clients: Array<{ close(): Promise<void> }> = [];
  const client = (timeoutMs = 5_000) => {
    const created = createBackendClient({ baseUrl: backend.url, timeoutMs });
    clients.push(created);
    return created;
  };

  beforeAll(async () => {
    backend = await startFakeBackend(answerJson(200, { similarity: 77 }));
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await backend.close();
  });

  for (const concurrency of [1, 3, DEFAULT_BATCH_CONCURRENCY]) {
    it(`GIVEN a bound of ${concurrency} WHEN 60 candidates are forwarded THEN never more than ${concurrency} calls are in flight, the bound is used, and the order is kept`, async () => {
      const table = loadEngineScoreTable();
      const random = rng(concurrency);
      const { state, behaviour } = scoringBackend(table, random, 15);
      backend.behave(behaviour);
      const deps: CompareDeps = { mode: 'forward', backend: client(), logger };
      const handler = createCompareBatchHandler(deps, { concurrency });
      const vector = vectorMaker(random);
      const probe = vector(128);
      const embeddings = Array.from({ length: 60 }, (_, i) => (i % 2 ? vector(128, probe) : vector(128)));
      const before = backend.received.length;
      const result = await handler(postEvent(BATCH, { embedding: probe, embeddings }));
      expect(result.statusCode, result.body.slice(0, 200)).toBe(200);
      expect(state.maxInFlight).toBe(concurrency);
      expect(state.calls).toBe(60);
      // In the candidates' order although the answers came back in random order.
      const expected = embeddings.map((candidate) => scoreEmbeddings(table, probe, candidate));
      expect(JSON.parse(result.body).similarities).toEqual(expected);
      // Each call is the single operation's request, byte for byte.
      const sent = backend.received.slice(before);
      expect(sent.every((r) => r.path === SINGLE && r.headers['x-request-id'] === 'req-test-1')).toBe(true);
      expect(sent.map((r) => JSON.stringify(r.body)).sort()).toEqual(embeddings.map((e) => JSON.stringify({ embedding1: probe, embedding2: e })).sort());
    });
  }

  it('GIVEN forward mode WHEN the same pairs go through the single compare THEN the answers are equal', async () => {
    const table = loadEngineScoreTable();
    const random = rng(42);
    backend.behave(scoringBackend(table, random, 3).behaviour);
    const deps: CompareDeps = { mode: 'forward', backend: client(), logger };
    const batch = createCompareBatchHandler(deps);
    const single = createCompareHandler(deps);
    const vector = vectorMaker(random);
    const probe = vector(64);
    const embeddings = Array.from({ length: 40 }, () => vector(64, probe));
    const { similarities } = JSON.parse((await batch(postEvent(BATCH, { embedding: probe, embeddings }))).body);
    for (let i = 0; i < embeddings.length; i++) {
      expect(similarities[i]).toBe(JSON.parse((await single(postEvent(SINGLE, { embedding1: probe, embedding2: embeddings[i] }))).body).similarity);
    }
  });

  it('GIVEN a backend slower than the budget WHEN a batch is forwarded THEN 504 with a problem body and no partial answer, and no new calls after it', async () => {
    let calls = 0;
    backend.behave((_req, _body, res) => {
      calls++;
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"similarity":50}'), 150);
    });
    const handler = createCompareBatchHandler({ mode: 'forward', backend: client(), logger }, { concurrency: 2, integrationTimeoutMs: 500 });
    const started = Date.now();
    const result = await handler(postEvent(BATCH, { embedding: [1, 2], embeddings: Array.from({ length: 20 }, () => [2, 1]) }));
    const elapsed = Date.now() - started;
    expect(result.statusCode).toBe(504);
    const body = JSON.parse(result.body);
    expect(body).toMatchObject({ type: 'urn:face-verification:problem:gateway-timeout', status: 504 });
    expect(body.detail).toMatch(/did not finish within its 475 ms time budget \(waiting for the backend/);
    expect(body.similarities).toBeUndefined();
    // One budget for the whole batch: answered at its end, not 20 x 150 ms / 2 later.
    expect(elapsed).toBeLessThan(900);
    const callsAtAnswer = calls;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(calls).toBeLessThanOrEqual(callsAtAnswer + 2);
    expect(calls).toBeLessThan(20);
  });

  it('GIVEN the Lambda context has less time than API Gateway WHEN a batch is forwarded THEN the budget follows the context', async () => {
    backend.behave((_req, _body, res) => setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"similarity":50}'), 300));
    const handler = createCompareBatchHandler({ mode: 'forward', backend: client(), logger });
    const result = await handler(postEvent(BATCH, { embedding: [1], embeddings: [[1]] }), { getRemainingTimeInMillis: () => 200 });
    expect(result.statusCode).toBe(504);
    expect(JSON.parse(result.body).detail).toMatch(/190 ms time budget/);
  });

  it('GIVEN backend failures WHEN a batch is forwarded THEN the usual 503 / 502 / 400 problems, never a partial answer', async () => {
    const handler = createCompareBatchHandler({ mode: 'forward', backend: client(), logger }, { concurrency: 4 });
    const send = () => handler(postEvent(BATCH, { embedding: [1, 2], embeddings: Array.from({ length: 10 }, (_, i) => [i, 1]) }));

    backend.behave((_req, body, res) => {
      const { embedding2 } = JSON.parse(body.toString('utf8'));
      if (embedding2[0] === 7) res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '3' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"similarity":50}');
    });
    const overloaded = await send();
    expect(overloaded.statusCode).toBe(503);
    expect(overloaded.headers?.['retry-after']).toBe('3');
    expect(JSON.parse(overloaded.body).similarities).toBeUndefined();

    backend.behave(answerJson(200, { similarity: 'high' }));
    expect((await send()).statusCode).toBe(502);

    backend.behave((_req, body, res) => {
      const { embedding2 } = JSON.parse(body.toString('utf8'));
      if (embedding2[0] === 0) res.writeHead(400, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ title: 'The request is not valid', status: 400, detail: 'embedding2: must not be all zeros' }));
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"similarity":50}');
    });
    const refused = await handler(postEvent(BATCH, { embedding: [1, 2], embeddings: [[1, 1], [0, 0], [2, 1]] }));
    expect(refused.statusCode).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ detail: 'embeddings[1]: embedding2: must not be all zeros', errors: [{ field: 'embeddings[1]', reason: 'was refused by the backend' }] });

    const closed = createBackendClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 1_000 });
    clients.push(closed);
    const unreachable = await createCompareBatchHandler({ mode: 'forward', backend: closed, logger })(postEvent(BATCH, { embedding: [1], embeddings: [[1]] }));
    expect(unreachable.statusCode).toBe(503);
    expect(JSON.parse(unreachable.body).type).toBe('urn:face-verification:problem:service-unavailable');
  });

  it('GIVEN table mode whose switch says forward WHEN a batch arrives THEN it goes to the container too; back to the table when the switch does', async () => {
    const calls = backend.received.length;
    backend.behave(answerJson(200, { similarity: 33 }));
    let forwarding = true;
    const handler = createCompareRoutesHandler({ mode: 'table', table: floorTable, logger, fallback: { backend: client(), forwarding: () => forwarding } });
    const forwarded = await handler(postEvent(BATCH, { embedding: [1, 0], embeddings: [[1, 0], [0, 1]] }));
    expect(JSON.parse(forwarded.body)).toEqual({ similarities: [33, 33] });
    expect(backend.received.length).toBe(calls + 2);
    forwarding = false;
    const fromTable = await handler(postEvent(BATCH, { embedding: [1, 0], embeddings: [[1, 0], [0, 1]] }));
    expect(JSON.parse(fromTable.body)).toEqual({ similarities: [100, 0] });
    expect(backend.received.length).toBe(calls + 2);
  });

  it('GIVEN forwarded batches WHEN logged THEN the log line has counts and timing, never an embedding', async () => {
    backend.behave(answerJson(200, { similarity: 12 }));
    const handler = createCompareBatchHandler({ mode: 'forward', backend: client(), logger });
    await handler(postEvent(BATCH, { embedding: [0.987654321, 2], embeddings: [[0.123456789, 1]] }));
    expect(logger.text()).toContain('"candidates":1');
    expect(logger.text()).not.toMatch(/0\.987654321|0\.123456789/);
  });
});

describe('the compare function routes and configuration', () => {
  it('GIVEN events of both routes (with and without a stage in the path) WHEN routed THEN the batch goes to the batch handler only', () => {
    expect(isBatchEvent(postEvent(BATCH, {}))).toBe(true);
    expect(isBatchEvent({ ...postEvent(BATCH, {}), resource: '/{proxy+}', path: `/prod${BATCH}` })).toBe(true);
    expect(isBatchEvent(postEvent(SINGLE, {}))).toBe(false);
  });

  it('GIVEN COMPARE_BATCH_CONCURRENCY WHEN read THEN 8 by default, 1..64 accepted, anything else refused naming the variable', () => {
    expect(compareBatchOptionsFromEnv({})).toEqual({ concurrency: 8 });
    expect(compareBatchOptionsFromEnv({ COMPARE_BATCH_CONCURRENCY: '64' })).toEqual({ concurrency: 64 });
    expect(() => compareBatchOptionsFromEnv({ COMPARE_BATCH_CONCURRENCY: '65' })).toThrow(/COMPARE_BATCH_CONCURRENCY must be an integer from 1 to 64/);
    expect(() => compareBatchOptionsFromEnv({ COMPARE_BATCH_CONCURRENCY: '0' })).toThrow(/COMPARE_BATCH_CONCURRENCY/);
  });
});
