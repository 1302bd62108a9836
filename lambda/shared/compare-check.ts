/**
 * The compare-check function's logic: run the live check (lambda/shared/score-check.ts)
 * of the deployed score table against the container behind the internal ALB, publish
 * what it found, and switch compare to forwarding on any disagreement. Operators switch
 * back through the same function (`npm run compare-mode -- --table`), which re-runs the
 * check first and refuses while the table and the container disagree.
 */
import type { HandlerLogger } from './http.js';
import { compareModeFlag, parseCompareModeFlag, type CompareModeFlag } from './compare-mode.js';
import { runLiveCheck, type LiveCheckResult, type ProbeAnswer } from './score-check.js';
import { tableImageDigest, type ScoreTable } from './score-table.js';

/** What the function was asked to do. */
export type CheckRequest =
  | { readonly kind: 'scheduled' }
  | { readonly kind: 'deployment' }
  | { readonly kind: 'check' }
  | { readonly kind: 'enable-table' }
  | { readonly kind: 'status' }
  | { readonly kind: 'forward'; readonly reason: string };

/**
 * Classifies an event: an EventBridge schedule, an ECS deployment state change (the rule
 * passes only SERVICE_DEPLOYMENT_COMPLETED of our service), or an operator's
 * `{"action": "check" | "enable-table" | "status" | "forward", "reason"?}`.
 * @throws Error for anything else (the event's content is not echoed)
 */
export function classifyCheckEvent(event: unknown): CheckRequest {
  const e = (event ?? {}) as Record<string, unknown>;
  if (e.source === 'aws.ecs' && e['detail-type'] === 'ECS Deployment State Change') return { kind: 'deployment' };
  if (e.source === 'aws.events' || e.source === 'aws.scheduler') return { kind: 'scheduled' };
  if (e.action === 'check' || e.action === 'enable-table' || e.action === 'status') return { kind: e.action };
  if (e.action === 'forward') {
    const reason = typeof e.reason === 'string' && e.reason.trim() ? e.reason.trim().slice(0, 200) : 'set by an operator';
    return { kind: 'forward', reason };
  }
  throw new Error('unsupported event: expected a schedule, an ECS deployment state change or {"action":"check"|"enable-table"|"status"|"forward"}');
}

/** Where the flag is kept (Secrets Manager in AWS, a mock in tests). */
export interface FlagStore {
  read(): Promise<string | undefined>;
  write(value: string): Promise<void>;
}

export interface CompareCheckDeps {
  readonly table: ScoreTable;
  /** The container's answer for one pair. */
  readonly backend: (embedding1: number[], embedding2: number[]) => Promise<ProbeAnswer>;
  readonly flag: FlagStore;
  readonly log: HandlerLogger;
  readonly metric: (name: CheckMetric, value: number) => void;
  /** @default 32 */
  readonly randomPairs?: number;
  readonly now?: () => Date;
}

/** Metrics the function publishes (namespace FaceVerification, dimension service=face-compare-check). */
export type CheckMetric = 'CompareCheckPairs' | 'CompareTableMismatches' | 'CompareCheckInconclusive' | 'CompareForwarding';

/** The function's answer (what `npm run compare-mode` prints). */
export interface CheckAnswer {
  /** The mode compare is in after this run. */
  readonly mode: CompareModeFlag['mode'];
  /** True when this run changed the mode. */
  readonly switched: boolean;
  /** The check's verdict (absent for a plain `forward`). */
  readonly verdict?: LiveCheckResult['verdict'];
  readonly pairs?: number;
  readonly mismatches?: number;
  readonly seed?: number;
  /** The image digest the deployed table was calibrated on. */
  readonly tableDigest?: string;
  /** Why an `enable-table` request was refused. */
  readonly refused?: string;
  /** `status`: the flag as stored (who set it, when, why). */
  readonly flag?: CompareModeFlag;
}

/** One run; throws only when the flag cannot be read or written (the function's Errors alarm). */
export async function runCompareCheck(request: CheckRequest, deps: CompareCheckDeps): Promise<CheckAnswer> {
  const now = deps.now ?? (() => new Date());
  const tableDigest = tableImageDigest(deps.table);
  const current = parseCompareModeFlag(await deps.flag.read());
  if (request.kind === 'status') {
    deps.metric('CompareForwarding', current.mode === 'forward' ? 1 : 0);
    return { mode: current.mode, switched: false, flag: current, ...(tableDigest ? { tableDigest } : {}) };
  }
  if (request.kind === 'forward') {
    await deps.flag.write(compareModeFlag('forward', 'operator', request.reason, now()));
    deps.metric('CompareForwarding', 1);
    deps.log.warn('compare switched to forwarding by an operator', { reason: request.reason, previousMode: current.mode });
    return { mode: 'forward', switched: current.mode !== 'forward', ...(tableDigest ? { tableDigest } : {}) };
  }

  const result = await runLiveCheck({ table: deps.table, backend: deps.backend, ...(deps.randomPairs ? { randomPairs: deps.randomPairs } : {}) });
  deps.metric('CompareCheckPairs', result.checked);
  deps.metric('CompareTableMismatches', result.mismatchCount);
  deps.metric('CompareCheckInconclusive', result.verdict === 'inconclusive' ? 1 : 0);
  const summary = {
    trigger: request.kind,
    verdict: result.verdict,
    pairs: result.pairs,
    errors: result.errors,
    mismatches: result.mismatchCount,
    seed: result.seed,
    durationMs: result.durationMs,
    tableDigest,
    // Where the score function moved: cosines and the two integers, never an embedding.
    examples: result.mismatches.map((m) => ({ cosine: m.cosine, table: m.table.similarity ?? m.table.status, container: m.backend.similarity ?? m.backend.status })),
  };
  const answer = { verdict: result.verdict, pairs: result.pairs, mismatches: result.mismatchCount, seed: result.seed, ...(tableDigest ? { tableDigest } : {}) };

  let mode = current.mode;
  let switched = false;
  let refused: string | undefined;
  if (result.verdict === 'drift') {
    deps.log.error('compare check: the score table disagrees with the container', summary);
    if (current.mode === 'table') {
      const first = result.mismatches[0]!;
      const reason = `live check (${request.kind}): ${result.mismatchCount} of ${result.pairs} pairs differ (seed ${result.seed}); first at cosine ${first.cosine}: table ${first.table.similarity ?? first.table.status}, container ${first.backend.similarity ?? first.backend.status}`;
      await deps.flag.write(compareModeFlag('forward', 'compare-check', reason, now()));
      mode = 'forward';
      switched = true;
      deps.log.error('compare switched to forwarding: every compare now goes to the container until an operator recalibrates and runs npm run compare-mode -- --table', { reason });
    }
    if (request.kind === 'enable-table') refused = `the table disagrees with the container on ${result.mismatchCount} of ${result.pairs} pairs: recalibrate first`;
  } else if (result.verdict === 'inconclusive') {
    deps.log.warn('compare check: the container failed some pairs; no verdict', summary);
    if (request.kind === 'enable-table') refused = `the container failed ${result.errors} of ${result.pairs} pairs: no verdict, try again`;
  } else {
    deps.log.info('compare check: the score table agrees with the container', summary);
    if (request.kind === 'enable-table' && current.mode !== 'table') {
      await deps.flag.write(compareModeFlag('table', 'operator', `table re-enabled after a passing check (${result.pairs} pairs, seed ${result.seed})`, now()));
      mode = 'table';
      switched = true;
      deps.log.warn('compare switched back to the score table by an operator', { pairs: result.pairs, seed: result.seed });
    }
  }
  deps.metric('CompareForwarding', mode === 'forward' ? 1 : 0);
  return { ...answer, mode, switched, ...(refused ? { refused } : {}) };
}
