/**
 * Lambda entry: the live check of table-mode compare against the container (every
 * 15 minutes, after every ECS service deployment, and on an operator's request).
 * See lambda/shared/compare-check.ts and docs/score-table.md.
 *
 * Environment: SCORE_TABLE (the same table file the compare function bundles),
 * BACKEND_URL (the internal ALB), COMPARE_MODE_SECRET_ID (the flag), CHECK_RANDOM_PAIRS.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createBackendClient } from './shared/backend-client.js';
import { classifyCheckEvent, runCompareCheck, type CheckAnswer } from './shared/compare-check.js';
import { envInt, requireEnv } from './shared/env.js';
import { backendProbe } from './shared/score-check.js';
import { loadDeployableScoreTable } from './shared/score-table.js';

const logger = new Logger({ serviceName: 'face-compare-check' });
// Metrics go out as EMF log lines: the VPC has a Logs endpoint and no CloudWatch (monitoring) endpoint.
const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'FaceVerification', serviceName: 'face-compare-check' });
const here = dirname(fileURLToPath(import.meta.url));
const table = loadDeployableScoreTable(resolve(here, requireEnv(process.env, 'SCORE_TABLE')));
// A short per-request deadline: a container that hangs makes the check inconclusive, not slow.
const backend = createBackendClient({ baseUrl: requireEnv(process.env, 'BACKEND_URL'), timeoutMs: envInt(process.env, 'CHECK_TIMEOUT_MS', 5_000, { min: 100, max: 25_000 }) });
const secretId = requireEnv(process.env, 'COMPARE_MODE_SECRET_ID');
const secrets = new SecretsManagerClient({});
const randomPairs = envInt(process.env, 'CHECK_RANDOM_PAIRS', 32, { min: 1, max: 10_000 });

export async function handler(event: unknown): Promise<CheckAnswer> {
  try {
    return await runCompareCheck(classifyCheckEvent(event), {
      table,
      backend: backendProbe(backend),
      randomPairs,
      flag: {
        read: async () => (await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
        write: async (value) => {
          await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
        },
      },
      log: logger,
      metric: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
    });
  } finally {
    metrics.publishStoredMetrics();
  }
}
