/**
 * The Lambda entries read CORS_ALLOW_ORIGINS (set by the CDK app from api.cors.allowOrigins)
 * and echo an allowed Origin on their answers, errors included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent, ApiResult } from '../../lambda/shared/http.js';
import { getEvent, postEvent } from '../helpers/events.js';

const APP = 'https://app.example.com';

describe('Lambda entry lambda/docs.ts with CORS_ALLOW_ORIGINS', () => {
  let handler: (event: ApiEvent) => Promise<ApiResult>;
  const saved = process.env.CORS_ALLOW_ORIGINS;
  beforeAll(async () => {
    process.env.CORS_ALLOW_ORIGINS = `${APP},https://admin.example.com`;
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    ({ handler } = (await import('../../lambda/docs.js')) as { handler: typeof handler });
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.CORS_ALLOW_ORIGINS;
    else process.env.CORS_ALLOW_ORIGINS = saved;
  });

  it('GIVEN an allowed Origin WHEN the OpenAPI document is fetched THEN the answer names that origin and varies on Origin', async () => {
    const result = await handler({ ...getEvent('/swagger/v1/swagger.json'), headers: { Origin: APP } });
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['access-control-allow-origin']).toBe(APP);
    expect(result.headers?.vary).toBe('Origin');
  });

  it('GIVEN an allowed Origin WHEN the handler answers an error (405) THEN the error is readable too', async () => {
    const result = await handler({ ...postEvent('/swagger/index.html', {}), headers: { origin: APP } });
    expect(result.statusCode).toBe(405);
    expect(result.headers?.['access-control-allow-origin']).toBe(APP);
  });

  it('GIVEN another Origin WHEN the document is fetched THEN no Access-Control-Allow-Origin is sent', async () => {
    const result = await handler({ ...getEvent('/swagger/v1/swagger.json'), headers: { origin: 'https://evil.example.net' } });
    expect(result.headers?.['access-control-allow-origin']).toBeUndefined();
  });
});
