import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackendClient } from '../../lambda/shared/backend-client.js';
import { createCompareHandler, parseCompareRequest } from '../../lambda/shared/compare.js';
import { CompareFaceEmbeddingsRequestSchema, PATHS } from '../../lambda/shared/contract.js';
import { cosine, loadScoreTable, scoreForCosine } from '../../lambda/shared/score-table.js';
import { answerJson, startFakeBackend, type FakeBackend } from '../helpers/fake-backend.js';
import { postEvent } from '../helpers/events.js';
import { recordingLogger } from '../helpers/logs.js';
import { floorTable } from '../helpers/score-tables.js';


describe('score table', () => {
  it('binary search gives the score of the last boundary at or below the cosine', () => {
    expect(scoreForCosine(floorTable, -0.5)).toBe(-1);
    expect(scoreForCosine(floorTable, 0)).toBe(0);
    expect(scoreForCosine(floorTable, 0.699999)).toBe(69);
    expect(scoreForCosine(floorTable, 0.7)).toBe(70);
    expect(scoreForCosine(floorTable, 1)).toBe(100);
  });

  it('agrees with a linear scan on random cosines', () => {
    fc.assert(
      fc.property(fc.double({ min: -1, max: 1, noNaN: true }), (c) => {
        let expected = floorTable.belowAll;
        for (const b of floorTable.boundaries) if (b.cosine <= c) expected = b.score;
        return scoreForCosine(floorTable, c) === expected;
      }),
      { numRuns: 2000 },
    );
  });

  it('computes cosine without overflow for huge finite values and NaN for a zero vector', () => {
    expect(cosine([1e300, 1e300], [1e300, 1e300])).toBeCloseTo(1, 12);
    expect(cosine([1e-300, 0], [0, 1e-300])).toBe(0);
    expect(cosine([3, 4], [-3, -4])).toBe(-1);
    expect(cosine([0, 0], [1, 2])).toBeNaN();
  });

  it('refuses a table file with unsorted boundaries, naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'table-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...floorTable, boundaries: [{ cosine: 0.5, score: 1 }, { cosine: 0.4, score: 2 }] }));
    expect(() => loadScoreTable(file)).toThrow(/boundaries\.1\.cosine: .*strictly increasing/);
    writeFileSync(file, '{');
    expect(() => loadScoreTable(file)).toThrow(/cannot read JSON/);
  });
});

describe('parseCompareRequest fast path', () => {
  const numbers = fc.array(fc.oneof(fc.double(), fc.integer(), fc.constant(Number.POSITIVE_INFINITY)), { minLength: 0, maxLength: 6 });
  const anything = fc.oneof(numbers, fc.constant(null), fc.string(), fc.array(fc.oneof(fc.string(), fc.double(), fc.constant(null)), { maxLength: 4 }), fc.constant(undefined));

  it('accepts exactly what the zod schema accepts, with the same result', () => {
    fc.assert(
      fc.property(anything, anything, (embedding1, embedding2) => {
        const body = { embedding1, embedding2 };
        const viaSchema = CompareFaceEmbeddingsRequestSchema.safeParse(body);
        let viaFast: unknown;
        let fastError: unknown;
        try {
          viaFast = parseCompareRequest(body);
        } catch (error) {
          fastError = error;
        }
        if (viaSchema.success) return fastError === undefined && JSON.stringify(viaFast) === JSON.stringify(viaSchema.data);
        return fastError !== undefined;
      }),
      { numRuns: 5000 },
    );
  });
});

describe('compare handler', () => {
  const logger = recordingLogger();
  let backend: FakeBackend;

  beforeAll(async () => {
    backend = await startFakeBackend(answerJson(200, { similarity: 77 }));
  });
  afterAll(() => backend.close());

  it('GIVEN table mode THEN scores in-process', async () => {
    const handler = createCompareHandler({ mode: 'table', table: floorTable, logger });
    const result = await handler(postEvent(PATHS.compareFaceEmbeddings, { embedding1: [1, 0], embedding2: [0.8, 0.6] }));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ similarity: 80 });
  });

  it('GIVEN a zero vector THEN the table answers its zeroVector score, or 400 when the backend refuses those', async () => {
    const scoring = createCompareHandler({ mode: 'table', table: floorTable, logger });
    expect(JSON.parse((await scoring(postEvent(PATHS.compareFaceEmbeddings, { embedding1: [0, 0], embedding2: [1, 0] }))).body)).toEqual({ similarity: -1 });
    const refusing = createCompareHandler({ mode: 'table', table: { ...floorTable, zeroVector: 'refuse' }, logger });
    const result = await refusing(postEvent(PATHS.compareFaceEmbeddings, { embedding1: [0, 0], embedding2: [1, 0] }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).detail).toContain('zero vector');
  });

  it('GIVEN table mode with a dimension THEN other lengths are refused with 400', async () => {
    const handler = createCompareHandler({ mode: 'table', table: { ...floorTable, dimension: 3 }, logger });
    const result = await handler(postEvent(PATHS.compareFaceEmbeddings, { embedding1: [1, 0], embedding2: [1, 0] }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).errors[0]).toEqual({ field: 'embedding1', reason: 'must have 3 numbers (the backend\'s embedding size), got 2' });
  });

  it('GIVEN forward mode THEN the backend scores it and the answer is relayed', async () => {
    const client = createBackendClient({ baseUrl: backend.url, timeoutMs: 500 });
    const handler = createCompareHandler({ mode: 'forward', backend: client, logger });
    const result = await handler(postEvent(PATHS.compareFaceEmbeddings, { embedding1: [0.1, 0.2], embedding2: [0.3, 0.4] }));
    expect(JSON.parse(result.body)).toEqual({ similarity: 77 });
    expect(backend.received.at(-1)).toMatchObject({ path: PATHS.compareFaceEmbeddings, body: { embedding1: [0.1, 0.2], embedding2: [0.3, 0.4] } });
    backend.behave(answerJson(200, { similarity: 101 }));
    expect((await handler(postEvent(PATHS.compareFaceEmbeddings, { embedding1: [1], embedding2: [1] }))).statusCode).toBe(502);
    await client.close();
  });

  it('GIVEN invalid input THEN 400 naming the field, and the embedding never reaches the log', async () => {
    const handler = createCompareHandler({ mode: 'table', table: floorTable, logger });
    const result = await handler(postEvent(PATHS.compareFaceEmbeddings, { embedding1: [0.123456789, 2], embedding2: [1] }));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).detail).toMatch(/^embedding2: must have the same length/);
    expect(result.body).not.toContain('0.123456789');
    expect(logger.text()).not.toContain('0.123456789');
  });
});
