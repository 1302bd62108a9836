/** Score tables written to temporary files: what a verified vendor calibration looks like, and broken variants. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_DIR } from '../../lib/config.js';

/** The calibration record `npm run calibrate` writes after a passed verification. */
export const PASSED_CALIBRATION = {
  endpoint: 'https://example.execute-api.eu-west-1.amazonaws.com/prod',
  imageDigest: 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
  date: '2026-11-28T00:00:00.000Z',
  requests: 5271,
  seed: 20261128,
  gridSteps: 2000,
  resolution: 1e-9,
  invariance: { pairs: 12, checks: ['scale-first', 'scale-second', 'rotation', 'permutation'], passed: true },
  verification: { randomPairs: 1000, straddlingPairs: 200, mismatches: 0, edgeCasesMatch: true, passed: true },
};

/** Writes a copy of the embedded engine's table with `overrides` (default: calibrated and verified); returns its path. */
export function writeCalibratedTable(overrides: Record<string, unknown> = {}): string {
  const table = JSON.parse(readFileSync(join(PROJECT_DIR, 'local', 'engine', 'score-table.json'), 'utf8'));
  const file = join(mkdtempSync(join(tmpdir(), 'face-table-')), 'vendor-score-table.json');
  writeFileSync(file, JSON.stringify({ ...table, backend: 'test vendor container', calibrated: true, calibration: PASSED_CALIBRATION, ...overrides }));
  return file;
}
