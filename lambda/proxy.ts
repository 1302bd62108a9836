/** Lambda entry: POST detect-faces and get-face-embeddings -> backend (vendor container behind the internal ALB). */
import { Logger } from '@aws-lambda-powertools/logger';
import { createBackendClient } from './shared/backend-client.js';
import { withCors } from './shared/cors.js';
import { envInt, envList, envString, requireEnv } from './shared/env.js';
import { createFaceProxyHandler } from './shared/face-proxy.js';
import { lambdaImageFetcher, urlImagesDisabled } from './shared/image-source.js';
import { LIMITS } from './shared/limits.js';

const logger = new Logger({ serviceName: 'face-proxy' });
const fetchFunction = envString(process.env, 'FETCH_IMAGE_FUNCTION_NAME');

// CORS_ALLOW_ORIGINS (api.cors.allowOrigins): browser apps allowed to read the answers.
export const handler = withCors(createFaceProxyHandler({
  backend: createBackendClient({
    baseUrl: requireEnv(process.env, 'BACKEND_URL'),
    timeoutMs: envInt(process.env, 'BACKEND_TIMEOUT_MS', LIMITS.defaultBackendTimeoutMs, { min: 100, max: LIMITS.apiGatewayIntegrationTimeoutMs - 500 }),
  }),
  // The download runs in the fetch-image function, outside the VPC (this function has no internet route).
  imageFetcher: fetchFunction ? lambdaImageFetcher(fetchFunction) : urlImagesDisabled,
  logger,
}), envList(process.env, 'CORS_ALLOW_ORIGINS'));
