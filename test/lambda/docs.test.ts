import { describe, expect, it } from 'vitest';
import { AUTH_SCHEMES_ENV, authSchemesFromEnv, createDocsHandler, defaultSwaggerUiDir } from '../../lambda/shared/docs.js';
import { getEvent, postEvent } from '../helpers/events.js';
import { recordingLogger } from '../helpers/logs.js';

const handler = createDocsHandler({ swaggerUiDir: defaultSwaggerUiDir(), logger: recordingLogger() });

describe('docs handler', () => {
  it('serves Swagger UI pointing at the v1 document', async () => {
    const page = await handler(getEvent('/swagger/index.html'));
    expect(page.statusCode).toBe(200);
    expect(page.headers?.['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('swagger-ui-bundle.js');
    const init = await handler(getEvent('/swagger/swagger-initializer.js'));
    expect(init.body).toContain("url: './v1/swagger.json'");
  });

  it('serves the OpenAPI document with the vendor\'s three operations and the two extensions', async () => {
    const result = await handler(getEvent('/swagger/v1/swagger.json'));
    const doc = JSON.parse(result.body);
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual([
      '/v1/face-verification/detect-faces',
      '/v1/face-verification/get-face-embeddings',
      '/v1/face-verification/compare-face-embeddings',
      '/v1/face-verification/verify-faces',
      '/v1/face-verification/compare-face-embeddings-batch',
    ]);
  });

  it('serves the swagger-ui-dist assets, also behind a stage prefix', async () => {
    const js = await handler(getEvent('/prod/swagger/swagger-ui-bundle.js'));
    expect(js.statusCode).toBe(200);
    expect(js.body.length).toBeGreaterThan(100_000);
    expect((await handler(getEvent('/swagger/swagger-ui.css'))).headers?.['content-type']).toMatch(/text\/css/);
  });

  it('refuses other files (no path traversal) and other methods', async () => {
    for (const path of ['/swagger/../package.json', '/swagger/package.json', '/swagger/swagger-ui-bundle.js.map', '/swagger/%2e%2e/x']) {
      expect((await handler(getEvent(path))).statusCode).toBe(404);
    }
    expect((await handler(postEvent('/swagger/index.html', {}))).statusCode).toBe(405);
    expect((await handler(getEvent('/swagger'))).headers?.location).toBe('/swagger/index.html');
  });
});

describe('docs handler: keys in memory only, only the accepted schemes (issue 10, point 10)', () => {
  const docOf = async (h: ReturnType<typeof createDocsHandler>) => JSON.parse((await h(getEvent('/swagger/v1/swagger.json'))).body);

  it('never asks Swagger UI to persist the authorization in localStorage', async () => {
    const init = (await handler(getEvent('/swagger/swagger-initializer.js'))).body;
    expect(init).not.toMatch(/persistAuthorization:\s*true/);
    expect(init).toMatch(/persistAuthorization:\s*false/);
  });

  it('GIVEN no schemes configured THEN the document offers ApiKey only (no Bearer without an issuer)', async () => {
    const doc = await docOf(handler);
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['ApiKeyAuth']);
    for (const path of Object.values(doc.paths) as Array<{ post: { security: unknown } }>) expect(path.post.security).toEqual([{ ApiKeyAuth: [] }]);
  });

  it('GIVEN AUTH_SCHEMES=ApiKey,Bearer THEN both schemes are offered', async () => {
    const both = createDocsHandler({ swaggerUiDir: defaultSwaggerUiDir(), logger: recordingLogger(), authSchemes: authSchemesFromEnv({ [AUTH_SCHEMES_ENV]: 'ApiKey,Bearer' }) });
    const doc = await docOf(both);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['ApiKeyAuth', 'BearerAuth']);
    expect(doc.paths['/v1/face-verification/detect-faces'].post.security).toEqual([{ ApiKeyAuth: [] }, { BearerAuth: [] }]);
  });

  it('authSchemesFromEnv defaults to ApiKey and refuses unknown schemes naming the variable', () => {
    expect(authSchemesFromEnv({})).toEqual(['ApiKey']);
    expect(authSchemesFromEnv({ AUTH_SCHEMES: ' ApiKey , Bearer ' })).toEqual(['ApiKey', 'Bearer']);
    expect(() => authSchemesFromEnv({ AUTH_SCHEMES: 'ApiKey,Basic' })).toThrow(/AUTH_SCHEMES/);
  });
});
