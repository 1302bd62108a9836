/**
 * Lambda entry: POST verify-faces (extension). Both images -> backend get-face-embeddings (vendor
 * container behind the internal ALB), scored exactly as the compare function scores: the same
 * COMPARE_MODE, SCORE_TABLE and compare-mode switch (lambda/shared/compare-env.ts).
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { createBackendClient } from './shared/backend-client.js';
import { compareDepsFromEnv } from './shared/compare-env.js';
import { withCors } from './shared/cors.js';
import { envInt, envList, envString, requireEnv } from './shared/env.js';
import { lambdaImageFetcher, urlImagesDisabled } from './shared/image-source.js';
import { LIMITS } from './shared/limits.js';
import { createVerifyFacesHandler } from './shared/verify-faces.js';

const logger = new Logger({ serviceName: 'face-verify' });
const fetchFunction = envString(process.env, 'FETCH_IMAGE_FUNCTION_NAME');

// A relative SCORE_TABLE is resolved against the bundle's directory (/var/task in Lambda).
// CORS_ALLOW_ORIGINS (api.cors.allowOrigins): browser apps allowed to read the answers.
export const handler = withCors(createVerifyFacesHandler({
  backend: createBackendClient({
    baseUrl: requireEnv(process.env, 'BACKEND_URL'),
    timeoutMs: envInt(process.env, 'BACKEND_TIMEOUT_MS', LIMITS.defaultBackendTimeoutMs, { min: 100, max: LIMITS.apiGatewayIntegrationTimeoutMs - 500 }),
  }),
  // The download runs in the fetch-image function, outside the VPC (this function has no internet route).
  imageFetcher: fetchFunction ? lambdaImageFetcher(fetchFunction) : urlImagesDisabled,
  scoring: compareDepsFromEnv(process.env, logger, dirname(fileURLToPath(import.meta.url))),
  logger,
}), envList(process.env, 'CORS_ALLOW_ORIGINS'));
