/**
 * The compare function's dependencies from its environment: COMPARE_MODE (`forward` | `table`),
 * BACKEND_URL, BACKEND_TIMEOUT_MS, SCORE_TABLE, COMPARE_BATCH_CONCURRENCY (the batch route), and in table mode COMPARE_MODE_SECRET_ID (the
 * live check's switch, see lambda/shared/compare-mode.ts) with COMPARE_MODE_CACHE_MS.
 */
import { resolve } from 'node:path';
import { createBackendClient } from './backend-client.js';
import type { CompareDeps } from './compare.js';
import { DEFAULT_BATCH_CONCURRENCY, MAX_BATCH_CONCURRENCY, type CompareBatchOptions } from './compare-batch.js';
import { forwardingFromFlag } from './compare-mode.js';
import { envInt, envString, requireEnv, type Env } from './env.js';
import type { HandlerLogger } from './http.js';
import { LIMITS } from './limits.js';
import { loadDeployableScoreTable } from './score-table.js';
import { cachedSecretString } from './secret-value.js';

const backendTimeout = (env: Env) =>
  envInt(env, 'BACKEND_TIMEOUT_MS', LIMITS.defaultBackendTimeoutMs, { min: 100, max: LIMITS.apiGatewayIntegrationTimeoutMs - 500 });

/**
 * Reads the configuration; table mode loads only a verified table that names its image digest.
 * @param bundleDir directory a relative SCORE_TABLE is resolved against
 * @throws Error naming the variable or the table problem (the function then fails to start)
 */
export function compareDepsFromEnv(env: Env, logger: HandlerLogger, bundleDir: string): CompareDeps {
  const mode = envString(env, 'COMPARE_MODE') ?? 'forward';
  if (mode === 'table') {
    const table = loadDeployableScoreTable(resolve(bundleDir, requireEnv(env, 'SCORE_TABLE')));
    const secretId = envString(env, 'COMPARE_MODE_SECRET_ID');
    if (!secretId) return { mode, table, logger };
    // The live check's switch, read with a short cache (30 s: a drift stops reaching clients within that).
    const readFlag = cachedSecretString(secretId, { maxAgeMs: envInt(env, 'COMPARE_MODE_CACHE_MS', 30_000, { min: 1_000, max: 300_000 }) });
    return {
      mode,
      table,
      logger,
      fallback: {
        backend: createBackendClient({ baseUrl: requireEnv(env, 'BACKEND_URL'), timeoutMs: backendTimeout(env) }),
        forwarding: forwardingFromFlag(
          readFlag,
          (error) => logger.warn('compare-mode flag unreadable; keeping the last mode (forwarding if none)', { errorName: (error as Error)?.name }),
          // Once per instance and change: which mode answers, and why (the reason names no embedding or key).
          (flag) => logger.info(`compare mode: ${flag.mode === 'table' ? 'answering from the score table' : 'forwarding to the container'}`, { mode: flag.mode, by: flag.by, reason: flag.reason, since: flag.since }),
        ),
      },
    };
  }
  if (mode === 'forward') {
    return { mode, backend: createBackendClient({ baseUrl: requireEnv(env, 'BACKEND_URL'), timeoutMs: backendTimeout(env) }), logger };
  }
  throw new Error(`configuration: COMPARE_MODE must be "table" or "forward", got "${mode}"`);
}

/**
 * The batch route's options: COMPARE_BATCH_CONCURRENCY, backend calls in flight per batch in
 * forward mode (1 to 64, default 8; see lambda/shared/compare-batch.ts for why).
 * @throws Error naming the variable when it is out of range
 */
export function compareBatchOptionsFromEnv(env: Env): CompareBatchOptions {
  return { concurrency: envInt(env, 'COMPARE_BATCH_CONCURRENCY', DEFAULT_BATCH_CONCURRENCY, { min: 1, max: MAX_BATCH_CONCURRENCY }) };
}
