/**
 * Score tables for tests, in the format of lambda/shared/score-table.ts.
 */
import { SCORE_TABLE_FORMAT, type ScoreTable } from '../../lambda/shared/score-table.js';

/** score = floor(100 * cos) for cos >= 0, -1 below: a table with one boundary per integer. */
export const floorTable: ScoreTable = {
  format: SCORE_TABLE_FORMAT,
  dimension: null,
  backend: 'test: floor(100 cos)',
  calibrated: false,
  belowAll: -1,
  zeroVector: -1,
  boundaries: Array.from({ length: 101 }, (_, score) => ({ cosine: score / 100, score })),
};
