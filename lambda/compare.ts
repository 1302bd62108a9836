/** Lambda entry: POST compare-face-embeddings, scored from a score table or forwarded to the backend. */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { createCompareHandler } from './shared/compare.js';
import { compareDepsFromEnv } from './shared/compare-env.js';
import { withCors } from './shared/cors.js';
import { envList } from './shared/env.js';

const logger = new Logger({ serviceName: 'face-compare' });

// A relative SCORE_TABLE is resolved against the bundle's directory (/var/task in Lambda).
// CORS_ALLOW_ORIGINS (api.cors.allowOrigins): browser apps allowed to read the answers.
export const handler = withCors(
  createCompareHandler(compareDepsFromEnv(process.env, logger, dirname(fileURLToPath(import.meta.url)))),
  envList(process.env, 'CORS_ALLOW_ORIGINS'),
);
