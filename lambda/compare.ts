/**
 * Lambda entry: POST compare-face-embeddings, scored from a score table or forwarded to the backend,
 * and POST compare-face-embeddings-batch (extension) on the same function, by its route.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import { createCompareRoutesHandler } from './shared/compare-batch.js';
import { compareBatchOptionsFromEnv, compareDepsFromEnv } from './shared/compare-env.js';
import { withCors } from './shared/cors.js';
import { envList } from './shared/env.js';

const logger = new Logger({ serviceName: 'face-compare' });

// A relative SCORE_TABLE is resolved against the bundle's directory (/var/task in Lambda).
// CORS_ALLOW_ORIGINS (api.cors.allowOrigins): browser apps allowed to read the answers.
// The Lambda context gives the batch's request deadline the function's remaining time.
export const handler = withCors<Context>(
  createCompareRoutesHandler(compareDepsFromEnv(process.env, logger, dirname(fileURLToPath(import.meta.url))), compareBatchOptionsFromEnv(process.env)),
  envList(process.env, 'CORS_ALLOW_ORIGINS'),
);
