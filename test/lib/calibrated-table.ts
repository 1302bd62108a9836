/** A calibrated score table written to a temporary file (what a verified vendor calibration would look like). */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_DIR } from '../../lib/config.js';

/** Writes a copy of the embedded engine's table marked `calibrated: true`; returns its absolute path. */
export function writeCalibratedTable(): string {
  const table = JSON.parse(readFileSync(join(PROJECT_DIR, 'local', 'engine', 'score-table.json'), 'utf8'));
  const file = join(mkdtempSync(join(tmpdir(), 'face-table-')), 'vendor-score-table.json');
  writeFileSync(file, JSON.stringify({ ...table, backend: 'test vendor container', calibrated: true }));
  return file;
}
