/**
 * Swagger UI (swagger-ui-dist) at /swagger/index.html and the OpenAPI document
 * at /swagger/v1/swagger.json, as the vendor container serves them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { answer, requestIdOf, type ApiEvent, type ApiResult, type HandlerLogger } from './http.js';
import { PATHS } from './contract.js';
import { buildOpenApiDocument, type AuthScheme } from './openapi.js';
import { ApiError } from './problem.js';

/** The swagger-ui-dist files served; anything else under /swagger/ is a 404. */
export const SWAGGER_UI_ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js'] as const;

const INDEX_HTML = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Face Verification API - Swagger UI</title>
    <link rel="stylesheet" type="text/css" href="./swagger-ui.css" />
    <link rel="icon" href="data:," />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
`;

// persistAuthorization stays off (its default): a key typed into "Authorize" lives in the
// page's memory only, never in the browser's localStorage, and is gone when the tab closes.
const INITIALIZER_JS = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: './v1/swagger.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
};
`;

/** The environment variable naming the accepted schemes (`ApiKey` or `ApiKey,Bearer`), set by the CDK construct. */
export const AUTH_SCHEMES_ENV = 'AUTH_SCHEMES';

/**
 * Reads {@link AUTH_SCHEMES_ENV}: a comma-separated list of `ApiKey` and `Bearer`.
 * @default ['ApiKey'] (Bearer is shown only when a deployment says it accepts it)
 * @throws Error naming the variable for an unknown scheme
 */
export function authSchemesFromEnv(env: Readonly<Record<string, string | undefined>>): AuthScheme[] {
  const raw = env[AUTH_SCHEMES_ENV]?.trim();
  if (!raw) return ['ApiKey'];
  const schemes = raw.split(',').map((item) => item.trim()).filter(Boolean);
  for (const scheme of schemes) {
    if (scheme !== 'ApiKey' && scheme !== 'Bearer') throw new Error(`configuration: ${AUTH_SCHEMES_ENV} must list ApiKey and/or Bearer, got "${scheme}"`);
  }
  return [...new Set(schemes)] as AuthScheme[];
}

const CONTENT_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/** Where swagger-ui-dist's files are: `SWAGGER_UI_DIR` in a Lambda bundle, else the installed package. */
export function defaultSwaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

/**
 * The API's base path as the client called it, for the document's Servers entry: `/prod` through
 * the execute-api URL (requestContext.path carries the stage, event.path does not: API Gateway
 * developer guide, "Input format of a Lambda function for proxy integration"), `/` locally and
 * behind a custom domain mapped at the root.
 */
export function apiBasePath(event: ApiEvent): string {
  const full = event.requestContext?.path ?? event.path;
  const index = full.lastIndexOf(PATHS.openApiDocument);
  const prefix = index > 0 ? full.slice(0, index) : '';
  return /^(\/[A-Za-z0-9._~-]+)+$/.test(prefix) ? prefix : '/';
}

export interface DocsDeps {
  readonly swaggerUiDir: string;
  readonly logger: HandlerLogger;
  /** The schemes the deployment accepts; the document offers only these. @default ['ApiKey'] */
  readonly authSchemes?: readonly AuthScheme[];
}

export function createDocsHandler(deps: DocsDeps): (event: ApiEvent) => Promise<ApiResult> {
  // One document per base path (a stage or a custom domain: a handful at most).
  const documents = new Map<string, string>();
  const assetCache = new Map<string, string>();
  const headers = (contentType: string, requestId: string) => ({
    'content-type': contentType,
    'x-request-id': requestId,
    'cache-control': 'public, max-age=300',
    'x-content-type-options': 'nosniff',
  });

  return (event) =>
    answer(event, deps.logger, async (requestId): Promise<ApiResult> => {
      if (event.httpMethod !== 'GET' && event.httpMethod !== 'HEAD') {
        throw new ApiError('method-not-allowed', 'Only GET is supported here.', { headers: { allow: 'GET, HEAD' } });
      }
      const index = event.path.indexOf('/swagger');
      const sub = index >= 0 ? event.path.slice(index + '/swagger'.length) : event.path;
      switch (sub) {
        case '':
        case '/':
          return { statusCode: 301, headers: { location: `${event.path.replace(/\/?$/, '/')}index.html`, 'x-request-id': requestIdOf(event) }, body: '' };
        case '/index.html':
          return { statusCode: 200, headers: { ...headers('text/html; charset=utf-8', requestId), 'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'" }, body: INDEX_HTML };
        case '/swagger-initializer.js':
          return { statusCode: 200, headers: headers(CONTENT_TYPES['.js']!, requestId), body: INITIALIZER_JS };
        case '/v1/swagger.json': {
          const server = apiBasePath(event);
          let documentJson = documents.get(server);
          if (documentJson === undefined) {
            documentJson = JSON.stringify(buildOpenApiDocument({ serverUrl: server, authSchemes: deps.authSchemes ?? ['ApiKey'] }));
            if (documents.size < 8) documents.set(server, documentJson);
          }
          return { statusCode: 200, headers: headers('application/json; charset=utf-8', requestId), body: documentJson };
        }
        default: {
          const name = sub.slice(1);
          if (!(SWAGGER_UI_ASSETS as readonly string[]).includes(name)) throw new ApiError('not-found', 'No such documentation file.');
          let body = assetCache.get(name);
          if (body === undefined) {
            body = readFileSync(join(deps.swaggerUiDir, name), 'utf8');
            assetCache.set(name, body);
          }
          return { statusCode: 200, headers: headers(CONTENT_TYPES[name.slice(name.lastIndexOf('.'))]!, requestId), body };
        }
      }
    });
}
