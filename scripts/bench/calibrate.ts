/**
 * A full calibration (invariance, scan, bisection to 1e-9, edge cases, 1,000 random +
 * straddling verification pairs) against the embedded engine over HTTP. Target: under 60 s.
 */
import { startEngineServer } from '../../local/engine/server.js';
import { calibrate } from '../calibration/calibrate.js';
import { createCompareProbe } from '../calibration/probe.js';
import { fmt, isMain, table } from './stats.js';

export async function runCalibrateBench(): Promise<string> {
  const engine = await startEngineServer({ host: '127.0.0.1', port: 0 });
  const probe = createCompareProbe({ endpoint: engine.url, concurrency: 8 });
  try {
    const started = performance.now();
    const result = await calibrate({ probe, dimension: 128, backend: 'embedded engine (bench)', endpoint: engine.url });
    const seconds = (performance.now() - started) / 1000;
    if (!result.ok) throw new Error(`calibration failed: ${result.reason}`);
    const v = result.table.calibration.verification;
    return [
      '### Calibration of the embedded engine (over HTTP)',
      '',
      table(['what', 'value'], [
        ['wall time', `${fmt(seconds, 1)} s`],
        ['requests', probe.requests()],
        ['boundaries found (1e-9)', result.table.boundaries.length],
        ['verification', `${v.randomPairs} random + ${v.straddlingPairs} straddling pairs, ${v.mismatches} mismatches`],
      ]),
      '',
      `Target: under 60 s. Result: **${fmt(seconds, 1)} s** (${seconds < 60 ? 'met' : 'NOT met'}).`,
    ].join('\n');
  } finally {
    await probe.close();
    await engine.close();
  }
}

if (isMain(import.meta.url)) runCalibrateBench().then((md) => console.log(md));
