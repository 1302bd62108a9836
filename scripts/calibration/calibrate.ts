/**
 * Recovers a backend's compare score function as a score table:
 *  1. checks that the score depends on the cosine alone (scale, rotation, permutation);
 *  2. finds every cosine where the integer changes, by a grid scan then bisection to 1e-9;
 *  3. records the answers for edge cases (identical, opposite, orthogonal, zero vector, ...);
 *  4. verifies the table on random pairs and on pairs straddling every boundary.
 * Every answer is cached under a stable key, so an interrupted run resumes where it stopped.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cosine, scoreForCosine, SCORE_TABLE_FORMAT, type ScoreTable } from '../../lambda/shared/score-table.js';
import { checkPairs, compareTableWithBackend } from '../../lambda/shared/score-check.js';
import type { CompareProbe, ProbeAnswer } from './probe.js';
import { basisPair, randomPair, randomPermutation, randomRotation, randomUnit, rng, scale } from '../../lambda/shared/embedding-vectors.js';

export interface CalibrateOptions {
  readonly probe: CompareProbe;
  readonly dimension: number;
  /** Free text naming the backend (never a key). */
  readonly backend: string;
  readonly endpoint: string;
  readonly imageDigest?: string;
  readonly seed?: number;
  /** Grid cells over [-1, 1] before bisection. @default 2000 (0.001 wide) */
  readonly gridSteps?: number;
  /** Bisection stops when the bracket is narrower than this. @default 1e-9 */
  readonly resolution?: number;
  /** @default 1000 */
  readonly randomPairs?: number;
  /** @default 12 */
  readonly invariancePairs?: number;
  /** Where answers are cached for resuming. */
  readonly statePath?: string;
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

export interface InvarianceFailure {
  readonly check: 'scale-first' | 'scale-second' | 'rotation' | 'permutation';
  readonly pair: number;
  readonly expected: ProbeAnswer;
  readonly got: ProbeAnswer;
}

export type CalibrationResult =
  | { readonly ok: true; readonly table: CalibratedTable }
  | { readonly ok: false; readonly reason: string; readonly invarianceFailures?: readonly InvarianceFailure[]; readonly table?: CalibratedTable };

export interface EdgeCaseAnswer extends ProbeAnswer {
  /** What table mode answers for the same input. */
  readonly tableAnswers: ProbeAnswer;
  readonly matches: boolean;
}

export type CalibratedTable = ScoreTable & {
  readonly edgeCases: Record<string, EdgeCaseAnswer>;
  readonly calibration: {
    readonly endpoint: string;
    readonly imageDigest: string | null;
    readonly date: string;
    readonly requests: number;
    readonly seed: number;
    readonly gridSteps: number;
    readonly resolution: number;
    readonly invariance: { readonly pairs: number; readonly checks: readonly string[]; readonly passed: boolean };
    readonly verification: {
      readonly randomPairs: number;
      readonly straddlingPairs: number;
      readonly mismatches: number;
      readonly edgeCasesMatch: boolean;
      readonly passed: boolean;
    };
  };
};

const same = (a: ProbeAnswer, b: ProbeAnswer) => a.status === b.status && a.similarity === b.similarity;

export async function calibrate(options: CalibrateOptions): Promise<CalibrationResult> {
  const { probe, dimension } = options;
  const seed = options.seed ?? 20261128;
  const gridSteps = options.gridSteps ?? 2000;
  const resolution = options.resolution ?? 1e-9;
  const progress = options.onProgress ?? (() => undefined);

  // --- answer cache (resume) ---------------------------------------------------------------
  const cache = new Map<string, ProbeAnswer>();
  if (options.statePath && existsSync(options.statePath)) {
    const saved = JSON.parse(readFileSync(options.statePath, 'utf8')) as { seed: number; dimension: number; answers: Record<string, ProbeAnswer> };
    if (saved.seed === seed && saved.dimension === dimension) for (const [k, v] of Object.entries(saved.answers)) cache.set(k, v);
  }
  let unsaved = 0;
  const save = () => {
    if (!options.statePath) return;
    const tmp = `${options.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ seed, dimension, answers: Object.fromEntries(cache) }));
    renameSync(tmp, options.statePath);
    unsaved = 0;
  };
  async function ask(key: string, send: () => Promise<ProbeAnswer>): Promise<ProbeAnswer> {
    const hit = cache.get(key);
    if (hit) return hit;
    const answer = await send();
    cache.set(key, answer);
    if (++unsaved >= 500) save();
    return answer;
  }
  const atCosine = (c: number) => ask(`basis:${c}`, () => probe.compare(...basisPair(dimension, c)));
  const score = async (c: number) => {
    const answer = await atCosine(c);
    if (answer.status !== 200) throw new Error(`the backend refused a valid pair (cosine ${c}): HTTP ${answer.status} ${answer.problem ?? ''}`);
    return answer.similarity!;
  };

  // --- 1. the score is a function of the cosine alone ----------------------------------------
  const invariancePairs = options.invariancePairs ?? 12;
  const checks = ['scale-first', 'scale-second', 'rotation', 'permutation'] as const;
  const failures: InvarianceFailure[] = [];
  {
    const random = rng(seed);
    const rotate = randomRotation(dimension, random);
    const permute = randomPermutation(dimension, random);
    const jobs = Array.from({ length: invariancePairs }, (_, i) => {
      const [a, b] = randomPair(dimension, -0.95 + (1.9 * (i + 0.5)) / invariancePairs + 0.01 * random(), random);
      return { i, a, b };
    });
    let done = 0;
    await Promise.all(
      jobs.map(async ({ i, a, b }) => {
        const base = await ask(`inv:${i}:base`, () => probe.compare(a, b));
        const variants: Record<(typeof checks)[number], [number[], number[]]> = {
          'scale-first': [scale(a, 7.25), b],
          'scale-second': [a, scale(b, 0.0125)],
          rotation: [rotate(a), rotate(b)],
          permutation: [permute(a), permute(b)],
        };
        for (const check of checks) {
          const got = await ask(`inv:${i}:${check}`, () => probe.compare(...variants[check]));
          if (!same(base, got)) failures.push({ check, pair: i, expected: base, got });
        }
        progress('invariance', ++done, invariancePairs);
      }),
    );
  }
  if (failures.length > 0) {
    save();
    const kinds = [...new Set(failures.map((f) => f.check))].join(', ');
    return { ok: false, reason: `the score is not a function of the cosine alone: ${kinds} changed the answer for ${failures.length} of ${invariancePairs * checks.length} checks`, invarianceFailures: failures };
  }

  // --- 2. boundaries: grid scan, then bisection of every change ------------------------------
  const grid = Array.from({ length: gridSteps + 1 }, (_, k) => (k === gridSteps ? 1 : -1 + (2 * k) / gridSteps));
  let scanned = 0;
  const gridScores = await Promise.all(
    grid.map(async (c) => {
      const s = await score(c);
      if (++scanned % 100 === 0 || scanned === grid.length) progress('scan', scanned, grid.length);
      return s;
    }),
  );
  const changes: Array<{ cosine: number; score: number }> = [];
  async function bisect(lo: number, sLo: number, hi: number, sHi: number): Promise<void> {
    if (hi - lo <= resolution) {
      changes.push({ cosine: hi, score: sHi });
      return;
    }
    const mid = lo + (hi - lo) / 2;
    const sMid = await score(mid);
    await Promise.all([sLo !== sMid ? bisect(lo, sLo, mid, sMid) : undefined, sMid !== sHi ? bisect(mid, sMid, hi, sHi) : undefined]);
  }
  const brackets = grid.slice(1).map((_, k) => k).filter((k) => gridScores[k] !== gridScores[k + 1]);
  let bisected = 0;
  await Promise.all(
    brackets.map(async (k) => {
      await bisect(grid[k]!, gridScores[k]!, grid[k + 1]!, gridScores[k + 1]!);
      progress('bisect', ++bisected, brackets.length);
    }),
  );
  changes.sort((x, y) => x.cosine - y.cosine);
  const boundaries = [{ cosine: -1, score: gridScores[0]! }, ...changes];

  // --- 3. edge cases ---------------------------------------------------------------------------
  const random = rng(seed + 1);
  const u = randomUnit(dimension, random);
  const zero = new Array<number>(dimension).fill(0);
  const short = randomUnit(Math.max(2, Math.min(dimension - 1, 3)), random);
  const nonFinite = `{"embedding1":[1e999${',0'.repeat(dimension - 1)}],"embedding2":${JSON.stringify(u)}}`;
  const edgeInputs: Record<string, () => Promise<ProbeAnswer>> = {
    identical: () => probe.compare(u, u),
    opposite: () => probe.compare(u, scale(u, -1)),
    orthogonal: () => probe.compare(...basisPair(dimension, 0)),
    zeroVector: () => probe.compare(zero, u),
    bothZero: () => probe.compare(zero, zero),
    lengthMismatch: () => probe.compare(u, u.slice(0, -1)),
    otherDimension: () => probe.compare(short, short),
    null: () => probe.compare(null, u),
    empty: () => probe.compare([], []),
    nonFinite: () => probe.compareRaw(nonFinite),
  };
  const edge: Record<string, ProbeAnswer> = {};
  for (const [name, send] of Object.entries(edgeInputs)) edge[name] = await ask(`edge:${name}`, send);

  const zeroAnswer = edge.zeroVector!;
  const zeroVector = zeroAnswer.status === 200 ? zeroAnswer.similarity! : 'refuse';
  const otherDimensionOk = edge.otherDimension!.status === 200;
  const table: ScoreTable = {
    format: SCORE_TABLE_FORMAT,
    // A backend that scores pairs of any length keeps `dimension: null`, so table mode does too.
    dimension: otherDimensionOk ? null : dimension,
    backend: options.backend,
    calibrated: false,
    belowAll: boundaries[0]!.score,
    zeroVector,
    boundaries,
  };
  const refusal: ProbeAnswer = { status: 400 };
  const tableAnswer = (c: number | 'refuse'): ProbeAnswer => (c === 'refuse' ? refusal : { status: 200, similarity: scoreForCosine(table, c) });
  const zeroTable: ProbeAnswer = zeroVector === 'refuse' ? refusal : { status: 200, similarity: zeroVector };
  const expectedEdge: Record<string, ProbeAnswer> = {
    identical: tableAnswer(cosine(u, u)),
    opposite: tableAnswer(cosine(u, scale(u, -1))),
    orthogonal: tableAnswer(0),
    zeroVector: zeroTable,
    bothZero: zeroTable,
    lengthMismatch: refusal,
    otherDimension: otherDimensionOk ? tableAnswer(cosine(short, short)) : refusal,
    null: refusal,
    empty: refusal,
    nonFinite: refusal,
  };
  // Refusals match on the status class (the backend's 400 vs 422 is its business); scores match exactly.
  const edgeMatches = (got: ProbeAnswer, want: ProbeAnswer) => (want.status === 200 ? same(got, want) : got.status >= 400 && got.status < 500);
  const edgeCases = Object.fromEntries(
    Object.entries(edge).map(([name, got]) => [name, { ...got, tableAnswers: expectedEdge[name]!, matches: edgeMatches(got, expectedEdge[name]!) }]),
  );
  const edgeCasesMatch = Object.values(edgeCases).every((e) => e.matches);

  // --- 4. verification (the same pairs and comparison the live checks use: lambda/shared/score-check.ts) ---
  const randomCount = Math.max(options.randomPairs ?? 1000, 1);
  const verifyJobs = checkPairs(table, { dimension, random: rng(seed + 2), randomPairs: randomCount, straddleOffset: 10 * resolution });
  const straddling = verifyJobs.filter((job) => job.kind === 'straddle').length;
  const comparison = await compareTableWithBackend(table, verifyJobs, (job) => ask(job.key, () => probe.compare(job.embedding1, job.embedding2)), {
    failOnError: true,
    onProgress: (done, total) => {
      if (done % 100 === 0 || done === total) progress('verify', done, total);
    },
  });
  const mismatches = comparison.mismatches.length;
  save();

  const passed = mismatches === 0 && edgeCasesMatch;
  const calibrated: CalibratedTable = {
    ...table,
    calibrated: passed,
    note: `Calibrated against ${options.backend}. Verified on ${randomCount} random pairs and ${straddling} pairs straddling the boundaries.`,
    edgeCases,
    calibration: {
      endpoint: options.endpoint,
      imageDigest: options.imageDigest ?? null,
      date: new Date().toISOString(),
      requests: probe.requests(),
      seed,
      gridSteps,
      resolution,
      invariance: { pairs: invariancePairs, checks: [...checks], passed: true },
      verification: { randomPairs: randomCount, straddlingPairs: straddling, mismatches, edgeCasesMatch, passed },
    },
  };
  if (!passed) {
    const edgeFailures = Object.entries(edgeCases).filter(([, e]) => !e.matches).map(([name]) => name);
    return {
      ok: false,
      reason: `verification failed: ${mismatches} pair(s) scored differently from the table${edgeFailures.length ? `; edge cases answered differently from table mode: ${edgeFailures.join(', ')}` : ''}`,
      table: calibrated,
    };
  }
  return { ok: true, table: calibrated };
}
