/**
 * The one implementation of "does this score table still answer exactly like the
 * backend?": the pairs (random, and straddling every boundary), the table's answer
 * for a pair (the same `scoreEmbeddings` compare runs), and the comparison. Used by
 * `npm run calibrate` (its verification phase), by the compare-check Lambda, and by
 * the laptop gateway's periodic check.
 *
 * Nothing here logs or returns an embedding: a mismatch is reported by its cosine and
 * the two answers (the pairs are synthetic, but they stay out of logs all the same).
 */
import type { BackendClient } from './backend-client.js';
import { CompareFaceEmbeddingsResponseSchema, PATHS } from './contract.js';
import { randomPair, rng } from './embedding-vectors.js';
import { ApiError } from './problem.js';
import { cosine, scoreEmbeddings, type ScoreTable } from './score-table.js';

/** One answer of a compare endpoint, reduced to what must agree. */
export interface ProbeAnswer {
  readonly status: number;
  /** The integer on a 200. */
  readonly similarity?: number;
  /** The problem `type` (or a short description) on a non-200. */
  readonly problem?: string;
}

/** A pair the check sends; `key` is stable for a seed (calibration resumes by it). */
export interface CheckPair {
  readonly key: string;
  readonly kind: 'random' | 'straddle';
  /** The cosine the pair was built with. */
  readonly cosine: number;
  readonly embedding1: number[];
  readonly embedding2: number[];
}

/** A pair the table and the backend answered differently. */
export interface CheckMismatch {
  readonly key: string;
  readonly kind: CheckPair['kind'];
  readonly cosine: number;
  readonly table: ProbeAnswer;
  readonly backend: ProbeAnswer;
}

/** Same status and same integer. */
export const sameAnswer = (a: ProbeAnswer, b: ProbeAnswer): boolean => a.status === b.status && a.similarity === b.similarity;

/** What table mode answers for a pair: a 200 with the table's integer, or a 400 for a zero vector it refuses. */
export function tableAnswer(table: ScoreTable, embedding1: readonly number[], embedding2: readonly number[]): ProbeAnswer {
  const similarity = scoreEmbeddings(table, embedding1, embedding2);
  return similarity === 'refuse' ? { status: 400 } : { status: 200, similarity };
}

/** Embedding length the check uses when the table accepts any length (`dimension: null`). */
export const ANY_LENGTH_CHECK_DIMENSION = 128;

export interface PairOptions {
  /** Embedding length of the pairs. @default the table's dimension, else 128 */
  readonly dimension?: number;
  readonly random: () => number;
  readonly randomPairs: number;
  /** Distance from a boundary of each straddling pair. @default 1e-8 (10x the calibration's 1e-9 bisection resolution) */
  readonly straddleOffset?: number;
  /** Straddle only this many boundaries, chosen at random. @default every boundary */
  readonly maxStraddledBoundaries?: number;
}

/**
 * The random pairs (uniform cosine in [-1, 1], random directions and norms), then a pair just
 * below and just above every boundary (the cosines where a table that is off by a hair fails first).
 */
export function checkPairs(table: ScoreTable, options: PairOptions): CheckPair[] {
  const dimension = options.dimension ?? table.dimension ?? ANY_LENGTH_CHECK_DIMENSION;
  const { random } = options;
  const pairs: CheckPair[] = [];
  for (let i = 0; i < options.randomPairs; i++) {
    const c = -1 + 2 * random();
    const [embedding1, embedding2] = randomPair(dimension, c, random);
    pairs.push({ key: `verify:${i}`, kind: 'random', cosine: c, embedding1, embedding2 });
  }
  const offset = options.straddleOffset ?? 1e-8;
  // The first boundary at -1 only says what the lowest score is; there is nothing below it.
  let boundaries = table.boundaries.map((b, index) => ({ ...b, index })).filter((b) => b.cosine > -1);
  if (options.maxStraddledBoundaries !== undefined && boundaries.length > options.maxStraddledBoundaries) {
    const chosen = new Set<number>();
    while (chosen.size < options.maxStraddledBoundaries) chosen.add(Math.floor(random() * boundaries.length));
    boundaries = boundaries.filter((_, i) => chosen.has(i));
  }
  boundaries.forEach((b, i) => {
    for (const [side, c] of [['below', b.cosine - offset], ['above', b.cosine + offset]] as const) {
      if (c <= -1 || c >= 1) continue;
      const [embedding1, embedding2] = randomPair(dimension, c, random);
      pairs.push({ key: `straddle:${i}:${side}`, kind: 'straddle', cosine: c, embedding1, embedding2 });
    }
  });
  return pairs;
}

/** What comparing a table with a backend found. */
export interface ComparisonResult {
  readonly checked: number;
  readonly mismatches: CheckMismatch[];
  /** Pairs the backend gave no usable answer for (timeouts, 5xx): neither agreement nor drift. */
  readonly errors: number;
}

/**
 * Sends every pair to the backend (`ask`) and compares each answer with the table's.
 * @param options.failOnError rethrow the first backend failure (calibration) instead of counting it (live checks)
 */
export async function compareTableWithBackend(
  table: ScoreTable,
  pairs: readonly CheckPair[],
  ask: (pair: CheckPair) => Promise<ProbeAnswer>,
  options: { concurrency?: number; failOnError?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<ComparisonResult> {
  const concurrency = Math.max(1, options.concurrency ?? pairs.length);
  const mismatches: CheckMismatch[] = [];
  let errors = 0;
  let done = 0;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < pairs.length) {
      const pair = pairs[next++]!;
      let got: ProbeAnswer;
      try {
        got = await ask(pair);
      } catch (error) {
        if (options.failOnError) throw error;
        errors++;
        continue;
      } finally {
        options.onProgress?.(++done, pairs.length);
      }
      const want = tableAnswer(table, pair.embedding1, pair.embedding2);
      if (!sameAnswer(got, want)) mismatches.push({ key: pair.key, kind: pair.kind, cosine: cosine(pair.embedding1, pair.embedding2), table: want, backend: got });
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, pairs.length) }, () => worker()));
  return { checked: pairs.length - errors, mismatches, errors };
}

/** The outcome of one live check. */
export interface LiveCheckResult {
  /** agree: every pair matched; drift: at least one did not; inconclusive: no mismatch, but the backend failed some pairs. */
  readonly verdict: 'agree' | 'drift' | 'inconclusive';
  /** Re-create the exact pairs with this seed. */
  readonly seed: number;
  readonly pairs: number;
  readonly checked: number;
  readonly errors: number;
  readonly mismatchCount: number;
  /** The first few mismatches (cosine and both answers; never an embedding). */
  readonly mismatches: readonly CheckMismatch[];
  readonly durationMs: number;
}

export interface LiveCheckOptions {
  readonly table: ScoreTable;
  /** Asks the backend (container) for its answer to one pair. */
  readonly backend: (embedding1: number[], embedding2: number[]) => Promise<ProbeAnswer>;
  /** @default 32 */
  readonly randomPairs?: number;
  /** @default every boundary (both sides) */
  readonly maxStraddledBoundaries?: number;
  /** @default a fresh random seed, so successive checks cover different pairs */
  readonly seed?: number;
  /** Requests in flight. @default 8 */
  readonly concurrency?: number;
}

/** Defaults of the live check (the Lambda and the laptop gateway use the same). */
export const LIVE_CHECK_DEFAULTS = { randomPairs: 32, concurrency: 8 } as const;

/** One live check: random and boundary-straddling pairs to the table and to the backend, compared. */
export async function runLiveCheck(options: LiveCheckOptions): Promise<LiveCheckResult> {
  const started = performance.now();
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const pairs = checkPairs(options.table, {
    random: rng(seed),
    randomPairs: options.randomPairs ?? LIVE_CHECK_DEFAULTS.randomPairs,
    ...(options.maxStraddledBoundaries !== undefined ? { maxStraddledBoundaries: options.maxStraddledBoundaries } : {}),
  });
  const result = await compareTableWithBackend(options.table, pairs, (pair) => options.backend(pair.embedding1, pair.embedding2), {
    concurrency: options.concurrency ?? LIVE_CHECK_DEFAULTS.concurrency,
  });
  const verdict = result.mismatches.length > 0 ? 'drift' : result.errors > 0 ? 'inconclusive' : 'agree';
  return {
    verdict,
    seed,
    pairs: pairs.length,
    checked: result.checked,
    errors: result.errors,
    mismatchCount: result.mismatches.length,
    mismatches: result.mismatches.slice(0, 5),
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * The backend as a check probe, through the same client the proxy and a forwarding compare
 * use. A 4xx verdict on the pair is an answer (it must agree with the table's); a transport
 * failure or 5xx is no answer (thrown, counted as an error by the check).
 */
export function backendProbe(backend: BackendClient, requestId = 'compare-check'): (embedding1: number[], embedding2: number[]) => Promise<ProbeAnswer> {
  return async (embedding1, embedding2) => {
    try {
      const answer = await backend.postJson(PATHS.compareFaceEmbeddings, JSON.stringify({ embedding1, embedding2 }), CompareFaceEmbeddingsResponseSchema, requestId);
      return { status: 200, similarity: answer.similarity };
    } catch (error) {
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) return { status: error.status, problem: error.kind };
      throw error;
    }
  };
}
