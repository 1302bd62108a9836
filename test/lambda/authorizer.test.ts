import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthorizer, keyId, wildcardResource } from '../../lambda/shared/authorizer.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { recordingLogger } from '../helpers/logs.js';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/v1/face-verification/detect-faces';
const USAGE_KEY = 'jwt-usage-key-0123456789abcdef';

function event(authorization?: string): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    headers: authorization === undefined ? {} : { Authorization: authorization },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

describe('authorizer', () => {
  let jwks: JwksServer;
  const logger = recordingLogger();
  let authorize: ReturnType<typeof createAuthorizer>;

  beforeAll(async () => {
    jwks = await startJwksServer();
    authorize = createAuthorizer({
      jwt: { issuer: jwks.issuer, audience: ['face-api'], jwksUri: jwks.jwksUri },
      jwtUsageKey: async () => USAGE_KEY,
      logger,
    });
  });
  afterAll(() => jwks.close());

  it('GIVEN "ApiKey <key>" THEN allows every route of the stage with the key as usage identifier', async () => {
    const result = await authorize(event('ApiKey my-key-0123456789abcdefghij'));
    expect(result.usageIdentifierKey).toBe('my-key-0123456789abcdefghij');
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*' },
    ]);
    expect(result.principalId).toBe(`apikey:${keyId('my-key-0123456789abcdefghij')}`);
    expect(result.principalId).not.toContain('my-key');
  });

  it('accepts the scheme case-insensitively and a lower-case header name', async () => {
    const result = await authorize({ ...event(), headers: { authorization: 'apikey abcdefghijklmnopqrstu' } } as never);
    expect(result.usageIdentifierKey).toBe('abcdefghijklmnopqrstu');
  });

  it.each([undefined, '', 'ApiKey', 'ApiKey ', 'Basic dXNlcjpwYXNz', 'Token abc', 'Bearer not-a-jwt', 'ApiKey key with spaces\u0000'])(
    'GIVEN %j THEN Unauthorized',
    async (header) => {
      await expect(authorize(event(header))).rejects.toThrow(/^Unauthorized$/);
    },
  );

  it('GIVEN a valid Bearer JWT from the JWKS server THEN allows with the configured usage key', async () => {
    const token = await jwks.sign({ sub: 'user-42' });
    const result = await authorize(event(`Bearer ${token}`));
    expect(result.usageIdentifierKey).toBe(USAGE_KEY);
    expect(result.principalId).toBe('jwt:user-42');
    expect(result.context).toMatchObject({ authType: 'jwt', sub: 'user-42' });
  });

  it.each([
    ['expired', { expiresIn: Math.floor(Date.now() / 1000) - 60 }],
    ['wrong audience', { audience: 'someone-else' }],
    ['wrong issuer', { issuer: 'https://evil.example' }],
    ['unknown kid', { kid: 'other-key' }],
  ])('GIVEN a %s token THEN Unauthorized', async (_name, options) => {
    const token = await jwks.sign({ sub: 'user-42' }, options);
    await expect(authorize(event(`Bearer ${token}`))).rejects.toThrow(/^Unauthorized$/);
  });

  it('GIVEN a token signed by another key with the same kid THEN Unauthorized', async () => {
    const other = await startJwksServer();
    try {
      const forged = await other.sign({ sub: 'attacker' }, { issuer: jwks.issuer });
      await expect(authorize(event(`Bearer ${forged}`))).rejects.toThrow(/^Unauthorized$/);
    } finally {
      await other.close();
    }
  });

  it('GIVEN the JWKS endpoint is down (keys not cached) THEN fails with an error that is not Unauthorized (API Gateway: AUTHORIZER_FAILURE -> 503)', async () => {
    const down = await startJwksServer();
    down.setAvailable(false);
    try {
      const fresh = createAuthorizer({ jwt: { issuer: down.issuer, audience: ['face-api'], jwksUri: down.jwksUri }, jwtUsageKey: async () => USAGE_KEY, logger });
      const token = await down.sign({ sub: 'u' });
      await expect(fresh(event(`Bearer ${token}`))).rejects.toThrow(/JWKS unavailable/);
      // ApiKey callers do not depend on the JWKS.
      await expect(fresh(event('ApiKey abcdefghijklmnopqrstuvwxyz'))).resolves.toMatchObject({ usageIdentifierKey: 'abcdefghijklmnopqrstuvwxyz' });
    } finally {
      await down.close();
    }
  });

  it('GIVEN no issuer configured THEN Bearer tokens are refused', async () => {
    const apiKeyOnly = createAuthorizer({ logger });
    const token = await jwks.sign({ sub: 'u' });
    await expect(apiKeyOnly(event(`Bearer ${token}`))).rejects.toThrow(/^Unauthorized$/);
  });

  it('never logs a key or a token', async () => {
    const token = await jwks.sign({ sub: 'user-7' });
    await authorize(event(`Bearer ${token}`));
    await authorize(event('ApiKey secret-key-value-123456789')).catch(() => undefined);
    await authorize(event('Basic c2VjcmV0')).catch(() => undefined);
    const text = logger.text();
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(text).not.toContain(token.split('.')[1]!);
    expect(text).not.toContain('secret-key-value');
    expect(text).not.toContain('c2VjcmV0');
  });

  it('wildcardResource keeps api and stage', () => {
    expect(wildcardResource(METHOD_ARN)).toBe('arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*');
  });
});
