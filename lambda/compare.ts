/** Lambda entry: POST compare-face-embeddings, scored from a score table or forwarded to the backend. */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { createCompareHandler } from './shared/compare.js';
import { compareDepsFromEnv } from './shared/compare-env.js';

const logger = new Logger({ serviceName: 'face-compare' });

// A relative SCORE_TABLE is resolved against the bundle's directory (/var/task in Lambda).
export const handler = createCompareHandler(compareDepsFromEnv(process.env, logger, dirname(fileURLToPath(import.meta.url))));
