import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildEngineScoreTable,
  COSINE_AT_70,
  cosineForScore,
  faceApiRuleScore,
  scoreForCosineRule,
  scoreForFaceApiDistance,
} from '../../../local/engine/make-score-table.js';
import { ENGINE_SCORE_TABLE_PATH, loadEngineScoreTable } from '../../../local/engine/score.js';
import { scoreEmbeddings } from '../../../lambda/shared/score-table.js';

/** Two 128-d unit vectors whose cosine is `c`. */
function pairWithCosine(c: number): [number[], number[]] {
  const a = new Array(128).fill(0);
  const b = new Array(128).fill(0);
  a[0] = 1;
  b[0] = c;
  b[1] = Math.sqrt(Math.max(0, 1 - c * c));
  return [a, b];
}

const table = loadEngineScoreTable();

describe('engine score table', () => {
  it('is the file make-score-table.ts generates (regenerate it after changing the rule)', () => {
    expect(JSON.parse(readFileSync(ENGINE_SCORE_TABLE_PATH, 'utf8'))).toEqual(buildEngineScoreTable());
  });

  it('passes the gateway schema, accepts any embedding length and has one boundary per score 0..100 with strictly increasing cosine', () => {
    expect(table).toMatchObject({ format: 'face-verification-score-table/v1', dimension: null, calibrated: false, belowAll: -1, zeroVector: -1 });
    expect(table.note).toMatch(/NOT the vendor/);
    expect(table.boundaries.map((b) => b.score)).toEqual(Array.from({ length: 101 }, (_, i) => i));
    expect(table.boundaries[0]!.cosine).toBe(-1);
    for (let i = 1; i < table.boundaries.length; i++) {
      expect(table.boundaries[i]!.cosine).toBeGreaterThan(table.boundaries[i - 1]!.cosine);
    }
  });

  it('puts 70 at cosine 0.71, 100 from 0.91, 0 below 0.25 (150 points per unit of cosine)', () => {
    const at = (score: number) => table.boundaries.find((b) => b.score === score)!.cosine;
    expect(COSINE_AT_70).toBe(0.71);
    expect(at(70)).toBeCloseTo(0.71, 6);
    expect(at(100)).toBeCloseTo(0.91, 6);
    expect(at(1)).toBeCloseTo(0.25, 6);
    expect(cosineForScore(85)).toBeCloseTo(0.81, 12);
    // The evidence's extremes (npm run engine:scores, crop 1.2): highest impostor 0.5987, lowest genuine 0.8232.
    expect(scoreForCosineRule(0.5987)).toBe(53);
    expect(scoreForCosineRule(0.8232)).toBe(86);
    expect(scoreForCosineRule(0.2)).toBe(0);
    expect(scoreForCosineRule(0.99)).toBe(100);
  });

  it("keeps the former face-api rule for comparison: 70 at face-api's distance 0.6 (cosine 0.9144 at descriptor norm 1.45)", () => {
    expect(scoreForFaceApiDistance(0.6)).toBe(70);
    expect(scoreForFaceApiDistance(0.4)).toBe(90);
    expect(scoreForFaceApiDistance(1.5)).toBe(0);
    expect(faceApiRuleScore(0.9145)).toBe(70);
    expect(faceApiRuleScore(0.9143)).toBe(69);
    // The sample4 faces 0 and 3 under face-api's net (cosine 0.9474-0.9475, on the 82/83 boundary 0.947467).
    expect(faceApiRuleScore(0.9474)).toBe(82);
  });

  it('agrees with the documented rule for any cosine not within 1e-6 of a boundary', () => {
    fc.assert(
      fc.property(fc.double({ min: -1, max: 1, noNaN: true }), (c) => {
        if (table.boundaries.some((b) => Math.abs(b.cosine - c) < 1e-6)) return;
        const [a, b] = pairWithCosine(c);
        expect(scoreEmbeddings(table, a, b)).toBe(scoreForCosineRule(c));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('scoreFromTable', () => {
  it("scores the vendor guide's 3-number example like any other length (cosine 0.99998 -> 100)", () => {
    expect(scoreEmbeddings(table, [0.123, -0.456, 0.789], [0.125, -0.45, 0.792])).toBe(100);
    expect(scoreEmbeddings(table, [1, 0, 0], [0, 1, 0])).toBe(0);
    expect(scoreEmbeddings(table, [1, 2], [1, 2])).toBe(100);
  });

  it('scores identical 100, opposite and orthogonal 0, a zero vector -1', () => {
    const [a] = pairWithCosine(1);
    expect(scoreEmbeddings(table, a, a)).toBe(100);
    expect(scoreEmbeddings(table, a, a.map((x) => -x))).toBe(0);
    expect(scoreEmbeddings(table, ...pairWithCosine(0))).toBe(0);
    expect(scoreEmbeddings(table, a, new Array(128).fill(0))).toBe(-1);
  });

  it('takes the score of the last boundary at or below the cosine, and is scale-invariant', () => {
    const b70 = table.boundaries.find((b) => b.score === 70)!.cosine;
    expect(scoreEmbeddings(table, ...pairWithCosine(b70 + 1e-9))).toBe(70);
    expect(scoreEmbeddings(table, ...pairWithCosine(b70 - 1e-6))).toBe(69);
    const [a, b] = pairWithCosine(0.95);
    expect(scoreEmbeddings(table, a.map((x) => x * 1e6), b.map((x) => x * 1e-6))).toBe(scoreEmbeddings(table, a, b));
  });

  it('answers belowAll under the first boundary of a table that does not start at -1', () => {
    const custom = { ...table, belowAll: -1, boundaries: [{ cosine: 0.5, score: 10 }, { cosine: 0.9, score: 90 }] };
    expect(scoreEmbeddings(custom, ...pairWithCosine(0.2))).toBe(-1);
    expect(scoreEmbeddings(custom, ...pairWithCosine(0.6))).toBe(10);
    expect(scoreEmbeddings(custom, ...pairWithCosine(0.95))).toBe(90);
  });
});
