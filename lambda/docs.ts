/** Lambda entry: GET /swagger/index.html, its assets and /swagger/v1/swagger.json. */
import { Logger } from '@aws-lambda-powertools/logger';
import { authSchemesFromEnv, createDocsHandler, defaultSwaggerUiDir } from './shared/docs.js';
import { envString } from './shared/env.js';

export const handler = createDocsHandler({
  swaggerUiDir: envString(process.env, 'SWAGGER_UI_DIR') ?? defaultSwaggerUiDir(),
  logger: new Logger({ serviceName: 'face-docs' }),
  // AUTH_SCHEMES is set by the CDK construct: Bearer only when a JWT issuer is configured.
  authSchemes: authSchemesFromEnv(process.env),
});
