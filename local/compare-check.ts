/**
 * The laptop's live check of table mode against a real backend (`BACKEND_URL` +
 * `COMPARE_MODE=table`): the same check the compare-check Lambda runs
 * (lambda/shared/score-check.ts), at start and every `COMPARE_CHECK_INTERVAL_S`
 * seconds. The first disagreement switches compare to forwarding for the rest of
 * the process: restart `npm start` with a recalibrated table to go back.
 */
import type { BackendClient } from '../lambda/shared/backend-client.js';
import { backendProbe, runLiveCheck, type LiveCheckResult } from '../lambda/shared/score-check.js';
import type { ScoreTable } from '../lambda/shared/score-table.js';

export interface CompareWatchOptions {
  readonly table: ScoreTable;
  /** Where the check sends its pairs (a client with a short timeout: the check must not hang the start). */
  readonly backend: BackendClient;
  /** Seconds between checks. */
  readonly intervalS: number;
  /** One JSON log line per check. */
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
  /** @default 32 */
  readonly randomPairs?: number;
}

/** A running watch. */
export interface CompareWatch {
  /** True once a check found the table disagreeing with the backend. */
  forwarding(): boolean;
  /** The latest check's result. */
  last(): LiveCheckResult | undefined;
  /** Runs a check now (the timer keeps its rhythm). */
  runNow(): Promise<LiveCheckResult>;
  stop(): void;
}

/** Starts the watch; the first check runs at once (await `runNow()` to wait for it). */
export function startCompareWatch(options: CompareWatchOptions): CompareWatch {
  let forwarding = false;
  let last: LiveCheckResult | undefined;
  let running: Promise<LiveCheckResult> | undefined;
  const probe = backendProbe(options.backend, 'local-compare-check');

  async function check(): Promise<LiveCheckResult> {
    const result = await runLiveCheck({ table: options.table, backend: probe, ...(options.randomPairs ? { randomPairs: options.randomPairs } : {}) });
    last = result;
    const fields = { verdict: result.verdict, pairs: result.pairs, errors: result.errors, mismatches: result.mismatchCount, seed: result.seed, durationMs: result.durationMs };
    if (result.verdict === 'drift') {
      forwarding = true;
      stop();
      options.log('error', 'compare check: the score table disagrees with the backend; compare now forwards every request to the backend (restart with a recalibrated SCORE_TABLE to answer from a table again)', {
        ...fields,
        // Cosines and both answers only: enough to see where the score function moved.
        examples: result.mismatches.map((m) => ({ cosine: m.cosine, table: m.table.similarity ?? m.table.status, backend: m.backend.similarity ?? m.backend.status })),
      });
    } else if (result.verdict === 'inconclusive') {
      options.log('warn', 'compare check: the backend failed some pairs; table mode stays on, the next check decides', fields);
    } else {
      options.log('info', 'compare check: the score table agrees with the backend', fields);
    }
    return result;
  }

  function runNow(): Promise<LiveCheckResult> {
    running ??= check().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    if (!forwarding) runNow().catch((error: unknown) => options.log('error', 'compare check failed to run', { error: (error as Error).name }));
  }, options.intervalS * 1000);
  timer.unref();
  function stop() {
    clearInterval(timer);
  }

  return { forwarding: () => forwarding, last: () => last, runNow, stop };
}
