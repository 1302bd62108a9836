/**
 * The score function as data: a sorted table of cosine boundaries, each the
 * smallest cosine at which an integer similarity starts. The embedded engine
 * ships its own table; a vendor table comes from `npm run calibrate`, bound to the
 * image digest it was measured on.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';

export const SCORE_TABLE_FORMAT = 'face-verification-score-table/v1';

const Score = z.number().int().min(-1).max(100);

export const ScoreTableSchema = z
  .object({
    format: z.literal(SCORE_TABLE_FORMAT),
    /** Embedding length the backend produces; compares of other lengths are refused. `null`: any length. */
    dimension: z.number().int().positive().nullable(),
    backend: z.string(),
    /** True only for a table verified against the backend it describes. */
    calibrated: z.boolean(),
    note: z.string().optional(),
    /** Score for a cosine below the first boundary. */
    belowAll: Score,
    /** Answer when either vector has zero norm (cosine undefined): a score, or "refuse" (400) as the backend does. */
    zeroVector: z.union([Score, z.literal('refuse')]),
    boundaries: z.array(z.object({ cosine: z.number().min(-1.000001).max(1.000001), score: Score })).min(1),
  })
  .passthrough()
  .superRefine((table, ctx) => {
    for (let i = 1; i < table.boundaries.length; i++) {
      if (!(table.boundaries[i]!.cosine > table.boundaries[i - 1]!.cosine)) {
        ctx.addIssue({ code: 'custom', path: ['boundaries', i, 'cosine'], message: 'boundaries must be sorted by strictly increasing cosine' });
      }
    }
  });

export type ScoreTable = z.infer<typeof ScoreTableSchema>;

/** Loads and validates a table file; the message names the file and the first bad field. */
export function loadScoreTable(path: string): ScoreTable {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`score table ${path}: cannot read JSON (${(error as Error).message})`);
  }
  const result = ScoreTableSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`score table ${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/**
 * Cosine of two equal-length vectors, or NaN when either has zero norm.
 * Each vector is scaled by its largest magnitude first, so finite inputs such as
 * 1e200 cannot overflow to Infinity (cosine is scale-invariant).
 */
export function cosine(a: readonly number[], b: readonly number[]): number {
  let maxA = 0;
  let maxB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i]!);
    const y = Math.abs(b[i]!);
    if (x > maxA) maxA = x;
    if (y > maxB) maxB = y;
  }
  if (maxA === 0 || maxB === 0) return Number.NaN;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! / maxA;
    const y = b[i]! / maxB;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  // Clamp: rounding can push |cos| a hair past 1.
  return Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
}

/** Integer similarity of a (non-NaN) cosine: the score of the last boundary at or below it (binary search). */
export function scoreForCosine(table: ScoreTable, cos: number): number {
  const b = table.boundaries;
  if (cos < b[0]!.cosine) return table.belowAll;
  let lo = 0;
  let hi = b.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (b[mid]!.cosine <= cos) lo = mid;
    else hi = mid - 1;
  }
  return b[lo]!.score;
}

/** The table's answer for a pair: a similarity, or "refuse" for a zero vector when the backend refuses those. */
export function scoreEmbeddings(table: ScoreTable, a: readonly number[], b: readonly number[]): number | 'refuse' {
  const cos = cosine(a, b);
  return Number.isNaN(cos) ? table.zeroVector : scoreForCosine(table, cos);
}

/** What `npm run calibrate` records about how a table was verified (see scripts/calibration/calibrate.ts). */
export const CalibrationRecordSchema = z
  .object({
    endpoint: z.string(),
    imageDigest: z.string().nullable(),
    date: z.string(),
    requests: z.number().int().nonnegative(),
    invariance: z.object({ pairs: z.number().int(), passed: z.boolean() }).passthrough(),
    verification: z
      .object({
        randomPairs: z.number().int().nonnegative(),
        straddlingPairs: z.number().int().nonnegative(),
        mismatches: z.number().int().nonnegative(),
        edgeCasesMatch: z.boolean(),
        passed: z.boolean(),
      })
      .passthrough(),
  })
  .passthrough();

/** Fewest random pairs a table must have reproduced before it may answer compares in AWS. */
export const MIN_VERIFIED_RANDOM_PAIRS = 1000;

/**
 * Why a table may not answer compares in a deployment (undefined when it may):
 * it must be marked calibrated and carry a passed verification record with at least
 * 1,000 random pairs, no mismatch, matching edge cases and passed invariance checks,
 * and name the container image digest it was measured on (a table is exact only for that image).
 */
export function deployableTableProblem(table: ScoreTable): string | undefined {
  if (!table.calibrated) return 'is not calibrated ("calibrated": false)';
  const record = CalibrationRecordSchema.safeParse((table as Record<string, unknown>).calibration);
  if (!record.success) return 'has no calibration record (run npm run calibrate against the vendor container)';
  const { invariance, verification } = record.data;
  if (!invariance.passed) return 'failed the cosine-invariance checks';
  if (!verification.passed || verification.mismatches > 0) return `failed verification (${verification.mismatches} mismatches)`;
  if (!verification.edgeCasesMatch) return 'answers edge cases differently from the backend';
  if (verification.randomPairs < MIN_VERIFIED_RANDOM_PAIRS) {
    return `was verified on ${verification.randomPairs} random pairs; at least ${MIN_VERIFIED_RANDOM_PAIRS} are required`;
  }
  if (!record.data.imageDigest) {
    return 'names no image digest (calibration.imageDigest is null): run npm run calibrate -- --stage <stage> so it reads the digest of the running image, or pass --image-digest sha256:<digest> for an endpoint that is not ours';
  }
  if (!IMAGE_DIGEST.test(record.data.imageDigest)) return `names "${record.data.imageDigest}" as its image digest; expected sha256:<64 hex digits>`;
  return undefined;
}

/**
 * What synth and the deploy-time check say when a table was measured on another image:
 * what is wrong, and the three commands that put it right.
 */
export function staleTableMessage(tableName: string, tableDigest: string, imageDigest: string): string {
  return (
    `score table ${tableName} was calibrated on image ${tableDigest}, but the deployment would run ${imageDigest}. ` +
    'Deploy with compare.mode "forward" first, then run `npm run calibrate -- --stage <stage> --out <table.json>` against the new image ' +
    '(it records the running digest), set compare.scoreTableFile to the new table and deploy again'
  );
}

/** An OCI content digest as ECR and ECS report it. */
export const IMAGE_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The image digest a table was calibrated on, if it names one. */
export function tableImageDigest(table: ScoreTable): string | undefined {
  const digest = ((table as Record<string, unknown>).calibration as { imageDigest?: unknown } | undefined)?.imageDigest;
  return typeof digest === 'string' && digest ? digest : undefined;
}

/**
 * Loads a table for table mode in AWS: the file must parse and be deployable (see
 * {@link deployableTableProblem}); the compare function refuses to start otherwise.
 * @throws Error naming the file and the problem
 */
export function loadDeployableScoreTable(path: string): ScoreTable {
  const table = loadScoreTable(path);
  const problem = deployableTableProblem(table);
  if (problem) throw new Error(`score table ${path} ${problem}: table mode refuses it`);
  return table;
}
