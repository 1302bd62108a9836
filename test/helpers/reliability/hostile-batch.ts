/**
 * Hostile bodies for compare-face-embeddings-batch (issue 11), built as JSON text like the other
 * generators in hostile.ts, and the oracle that predicts each answer from the contract: the
 * batch request schema, the body limits, and (table mode) the score table's length and
 * zero-vector rules; a 200 must carry exactly the single compare's score for every candidate.
 */
import fc from 'fast-check';
import { CompareFaceEmbeddingsBatchRequestSchema, MAX_BATCH_EMBEDDINGS } from '../../../lambda/shared/contract.js';
import { LIMITS } from '../../../lambda/shared/limits.js';
import { scoreEmbeddings, type ScoreTable } from '../../../lambda/shared/score-table.js';
import { extraEntry, NUMBER_TOKENS, request, transportAnswer, valueText, type Expected, type HostileRequest } from './hostile.js';

const DIM = 128;

/** Bodies for the batch: valid batches, wrong counts, mixed lengths, nested junk, number strings, bad tokens. */
export function compareBatchRequest(): fc.Arbitrary<HostileRequest> {
  const [probeKey, listKey] = Object.keys(CompareFaceEmbeddingsBatchRequestSchema.shape) as ['embedding', 'embeddings'];
  const element = fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: -1, max: 1, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -0, 5e-324, 1e308, -1e308, 1, -1) },
  );
  const vector = (length: number) => fc.array(element, { minLength: length, maxLength: length }).map((a) => JSON.stringify(a));
  const zeros = (n: number) => `[${Array(n).fill('0').join(',')}]`;
  const list = (items: string[]) => `[${items.join(',')}]`;
  const candidates = fc.oneof(
    // Valid: 1 to 40 candidates of the probe's length, some zero vectors.
    { weight: 8, arbitrary: fc.array(fc.oneof({ weight: 12, arbitrary: vector(DIM) }, { weight: 1, arbitrary: fc.constant(zeros(DIM)) }), { minLength: 1, maxLength: 40 }).map(list) },
    // Counts at and past the bounds: 0, 1,000 and 1,001 (short vectors keep the bodies small; their length is then wrong too for 128-d probes).
    { weight: 1, arbitrary: fc.constantFrom(0, MAX_BATCH_EMBEDDINGS, MAX_BATCH_EMBEDDINGS + 1).map((n) => list(Array(n).fill(zeros(DIM).replace(/0/g, '0.25')))) },
    // Mixed lengths.
    { weight: 2, arbitrary: fc.array(fc.integer({ min: 0, max: DIM + 2 }).chain((n) => vector(n)), { minLength: 1, maxLength: 8 }).map(list) },
    // Nested junk and number strings in place of candidates or numbers.
    {
      weight: 2,
      arbitrary: fc
        .array(
          fc.oneof(
            vector(DIM),
            fc.constantFrom('"NaN"', '"0.5"', 'null', 'true', '{}', '[]', '[[0.5]]', `[${Array(DIM).fill('"0.1"').join(',')}]`, '{"0":0.5,"length":128}', `[${Array(DIM - 1).fill('0.5').join(',')},[0.5]]`),
            fc.array(fc.constantFrom(...NUMBER_TOKENS, '"1"', 'null', '[]', '{}'), { minLength: DIM, maxLength: DIM }).map(list),
          ),
          { minLength: 1, maxLength: 6 },
        )
        .map(list),
    },
    // A candidate one number past the embedding limit (with a probe as long: see below).
    { weight: 1, arbitrary: fc.constant(list([`[${Array(LIMITS.maxEmbeddingLength + 1).fill('0.5').join(',')}]`])) },
    // Not a list of embeddings at all.
    { weight: 2, arbitrary: fc.oneof(valueText, fc.constantFrom('null', '{}', '"[[1]]"', '[1,2,3]', '[[]]', '[[[0.5]]]')) },
  );
  const probe = fc.oneof(
    { weight: 10, arbitrary: vector(DIM) },
    { weight: 1, arbitrary: fc.constant(zeros(DIM)) },
    { weight: 1, arbitrary: fc.constant(`[${Array(LIMITS.maxEmbeddingLength + 1).fill('0.5').join(',')}]`) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...NUMBER_TOKENS, '"NaN"', 'null'), { minLength: DIM, maxLength: DIM }).map(list) },
    { weight: 1, arbitrary: valueText },
  );
  const shaped = fc
    .tuple(probe, candidates, fc.constantFrom('both', 'both', 'both', 'both', 'no-probe', 'no-list', 'swapped', 'dup-list'), fc.array(extraEntry, { maxLength: 2 }))
    .map(([p, c, layout, extras]) => {
      const entries: Array<[string, string]> = [];
      if (layout !== 'no-probe') entries.push([probeKey, p]);
      if (layout !== 'no-list') entries.push([listKey, c]);
      if (layout === 'swapped') entries.reverse();
      if (layout === 'dup-list') entries.push([listKey, list([zeros(3)])]);
      entries.push(...extras);
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
    });
  return request(fc.oneof({ weight: 10, arbitrary: shaped }, { weight: 1, arbitrary: valueText }), 'compare-batch');
}

/** The oracle's verdict; for a 200 also the similarities the single compare gives for each pair. */
export interface ExpectedBatch extends Expected {
  readonly similarities?: readonly number[];
}

/**
 * What the contract says: content type, limits, JSON syntax, the batch schema, then (table mode)
 * the table's length and zero-vector rules, and each pair's score from the table.
 */
export function expectedBatchAnswer(req: HostileRequest, table: ScoreTable): ExpectedBatch {
  const transport = transportAnswer(req);
  if ('status' in transport) return transport;
  const { parsed } = transport;
  const result = CompareFaceEmbeddingsBatchRequestSchema.safeParse(parsed);
  if (!result.success) return { status: 400, kinds: ['validation-error'] };
  const embedding = result.data.embedding!;
  const embeddings = result.data.embeddings as number[][];
  if (table.dimension !== null && embedding.length !== table.dimension) return { status: 400, kinds: ['validation-error'] };
  const similarities: number[] = [];
  for (const candidate of embeddings) {
    const score = scoreEmbeddings(table, embedding, candidate);
    if (score === 'refuse') return { status: 400, kinds: ['validation-error'] };
    similarities.push(score);
  }
  return { status: 200, similarities };
}
