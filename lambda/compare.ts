/** Lambda entry: POST compare-face-embeddings, scored from a score table or forwarded to the backend. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { createBackendClient } from './shared/backend-client.js';
import { createCompareHandler, type CompareDeps } from './shared/compare.js';
import { withCors } from './shared/cors.js';
import { envInt, envList, envString, requireEnv } from './shared/env.js';
import { LIMITS } from './shared/limits.js';
import { loadScoreTable } from './shared/score-table.js';

const logger = new Logger({ serviceName: 'face-compare' });

function depsFromEnv(env: NodeJS.ProcessEnv): CompareDeps {
  const mode = envString(env, 'COMPARE_MODE') ?? 'forward';
  if (mode === 'table') {
    // A relative SCORE_TABLE is resolved against the bundle's directory (/var/task in Lambda).
    const here = dirname(fileURLToPath(import.meta.url));
    return { mode, table: loadScoreTable(resolve(here, requireEnv(env, 'SCORE_TABLE'))), logger };
  }
  if (mode === 'forward') {
    const timeoutMs = envInt(env, 'BACKEND_TIMEOUT_MS', LIMITS.defaultBackendTimeoutMs, { min: 100, max: LIMITS.apiGatewayIntegrationTimeoutMs - 500 });
    return { mode, backend: createBackendClient({ baseUrl: requireEnv(env, 'BACKEND_URL'), timeoutMs }), logger };
  }
  throw new Error(`configuration: COMPARE_MODE must be "table" or "forward", got "${mode}"`);
}

// CORS_ALLOW_ORIGINS (api.cors.allowOrigins): browser apps allowed to read the answers.
export const handler = withCors(createCompareHandler(depsFromEnv(process.env)), envList(process.env, 'CORS_ALLOW_ORIGINS'));
