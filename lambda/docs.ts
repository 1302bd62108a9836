/** Lambda entry: GET /swagger/index.html, its assets and /swagger/v1/swagger.json. */
import { Logger } from '@aws-lambda-powertools/logger';
import { authSchemesFromEnv, createDocsHandler, defaultSwaggerUiDir } from './shared/docs.js';
import { withCors } from './shared/cors.js';
import { envList, envString } from './shared/env.js';

// CORS_ALLOW_ORIGINS (api.cors.allowOrigins): browser apps allowed to read the OpenAPI document.
export const handler = withCors(createDocsHandler({
  swaggerUiDir: envString(process.env, 'SWAGGER_UI_DIR') ?? defaultSwaggerUiDir(),
  logger: new Logger({ serviceName: 'face-docs' }),
  // AUTH_SCHEMES is set by the CDK construct: Bearer only when a JWT issuer is configured.
  authSchemes: authSchemesFromEnv(process.env),
}), envList(process.env, 'CORS_ALLOW_ORIGINS'));
