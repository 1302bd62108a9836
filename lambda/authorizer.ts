/** Lambda entry: the API Gateway REQUEST authorizer (ApiKey or Bearer JWT in the Authorization header). */
import { Logger } from '@aws-lambda-powertools/logger';
import { createAuthorizer } from './shared/authorizer.js';
import { envList, envString } from './shared/env.js';
import { cachedSecretString } from './shared/secret-value.js';

const logger = new Logger({ serviceName: 'face-authorizer' });
const issuer = envString(process.env, 'JWT_ISSUER');
const usageKeySecret = envString(process.env, 'JWT_USAGE_KEY_SECRET_ID');

export const handler = createAuthorizer({
  jwt: issuer ? { issuer, audience: envList(process.env, 'JWT_AUDIENCE'), jwksUri: envString(process.env, 'JWT_JWKS_URI') } : undefined,
  // Cached for 5 minutes, so a rotated key is picked up without a redeploy.
  jwtUsageKey: usageKeySecret ? cachedSecretString(usageKeySecret, { maxAgeMs: 300_000 }) : undefined,
  logger,
});
