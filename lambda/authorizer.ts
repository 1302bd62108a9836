/** Lambda entry: the API Gateway REQUEST authorizer (ApiKey or Bearer JWT in the Authorization header). */
import { Logger } from '@aws-lambda-powertools/logger';
import { bearerUsageFromDefaultKey, createAuthorizer, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, parseBearerClients } from './shared/authorizer.js';
import { envInt, envList, envString } from './shared/env.js';
import { cachedSecretString } from './shared/secret-value.js';

const logger = new Logger({ serviceName: 'face-authorizer' });
const issuer = envString(process.env, 'JWT_ISSUER');
const usageKeySecret = envString(process.env, 'JWT_USAGE_KEY_SECRET_ID');

export const handler = createAuthorizer({
  jwt: issuer
    ? {
        issuer,
        audience: envList(process.env, 'JWT_AUDIENCE'),
        jwksUri: envString(process.env, 'JWT_JWKS_URI'),
        clientClaim: envString(process.env, 'JWT_CLIENT_CLAIM'),
        maxLifetimeSeconds: envInt(process.env, 'JWT_MAX_TOKEN_LIFETIME_SECONDS', DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, { min: 60 }),
      }
    : undefined,
  // The default plan's key (cached for 5 minutes, so a rotated key is picked up without a redeploy);
  // configured clients' keys are derived from it, as the template derives them.
  bearerUsage: usageKeySecret
    ? bearerUsageFromDefaultKey(cachedSecretString(usageKeySecret, { maxAgeMs: 300_000 }), parseBearerClients(envString(process.env, 'JWT_CLIENTS')))
    : undefined,
  logger,
});
