/**
 * One live check of table-mode compare (what the compare-check Lambda and the laptop
 * gateway run: 32 random pairs + 2 per table boundary) against the embedded engine over
 * HTTP, through the same backend client, repeated to get a median. The Lambda's own time
 * adds the ALB hop and the vendor container's compare; this is the floor on this machine.
 */
import { createBackendClient } from '../../lambda/shared/backend-client.js';
import { backendProbe, runLiveCheck } from '../../lambda/shared/score-check.js';
import { loadScoreTable } from '../../lambda/shared/score-table.js';
import { ENGINE_SCORE_TABLE_PATH } from '../../local/engine/score.js';
import { startEngineServer } from '../../local/engine/server.js';
import { fmt, isMain, median, percentile, table } from './stats.js';

export async function runCompareCheckBench(runs = 20): Promise<string> {
  const engine = await startEngineServer({ host: '127.0.0.1', port: 0 });
  const backend = createBackendClient({ baseUrl: engine.url, timeoutMs: 5_000 });
  const scoreTable = loadScoreTable(ENGINE_SCORE_TABLE_PATH);
  try {
    const probe = backendProbe(backend, 'bench');
    await runLiveCheck({ table: scoreTable, backend: probe, seed: 1 }); // warm-up
    const times: number[] = [];
    let pairs = 0;
    for (let i = 0; i < runs; i++) {
      const result = await runLiveCheck({ table: scoreTable, backend: probe, seed: 100 + i });
      if (result.verdict !== 'agree') throw new Error(`the engine's own table disagreed: ${result.verdict}`);
      times.push(result.durationMs);
      pairs = result.pairs;
    }
    const sorted = [...times].sort((a, b) => a - b);
    const perHour = 4 * pairs;
    return [
      '### Live check of table-mode compare (against the embedded engine over HTTP)',
      '',
      table(['what', 'value'], [
        ['pairs per check', `${pairs} (32 random + 2 x ${scoreTable.boundaries.length - 1} boundaries)`],
        ['check wall time, median', `${fmt(median(times), 0)} ms`],
        ['check wall time, p95', `${fmt(percentile(sorted, 95), 0)} ms`],
        ['checks', runs],
        ['compare calls per hour at rate(15 minutes)', `${perHour} (+ ${pairs} per ECS deployment)`],
      ]),
    ].join('\n');
  } finally {
    await backend.close();
    await engine.close();
  }
}

if (isMain(import.meta.url)) runCompareCheckBench().then((md) => console.log(md));
