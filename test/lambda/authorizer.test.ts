import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearerClientUsageKey,
  bearerUsageFromDefaultKey,
  createAuthorizer,
  jwksFetcher,
  keyId,
  parseBearerClients,
  wildcardResource,
} from '../../lambda/shared/authorizer.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { recordingLogger, type RecordingLogger } from '../helpers/logs.js';
import { installNetGuard } from '../helpers/reliability/net-guard.js';

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
      bearerUsage: bearerUsageFromDefaultKey(async () => USAGE_KEY, new Map()),
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
    expect(result.context).toMatchObject({ authType: 'jwt', sub: 'user-42', plan: 'default' });
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
      const fresh = createAuthorizer({ jwt: { issuer: down.issuer, audience: ['face-api'], jwksUri: down.jwksUri }, bearerUsage: bearerUsageFromDefaultKey(async () => USAGE_KEY, new Map()), logger });
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

/** The last `reason` the authorizer logged. */
function lastReason(logger: RecordingLogger): string | undefined {
  const line = logger.lines.at(-1);
  return line === undefined ? undefined : (JSON.parse(line) as { reason?: string }).reason;
}

describe('authorizer: per-client Bearer metering (issue 10, point 1)', () => {
  let jwks: JwksServer;
  const logger = recordingLogger();
  const clients = parseBearerClients(JSON.stringify({ 'mobile-app-7f3a': 'mobile', 'partner-portal': 'partner' }));
  let authorize: ReturnType<typeof createAuthorizer>;

  beforeAll(async () => {
    jwks = await startJwksServer();
    authorize = createAuthorizer({
      jwt: { issuer: jwks.issuer, audience: ['face-api'], jwksUri: jwks.jwksUri },
      bearerUsage: bearerUsageFromDefaultKey(async () => USAGE_KEY, clients),
      logger,
    });
  });
  afterAll(() => jwks.close());

  it('GIVEN two configured clients THEN each is metered under its own key and plan, never the shared one', async () => {
    const mobile = await authorize(event(`Bearer ${await jwks.sign({ sub: 'user-1', client_id: 'mobile-app-7f3a' })}`));
    const partner = await authorize(event(`Bearer ${await jwks.sign({ sub: 'user-1', client_id: 'partner-portal' })}`));
    expect(mobile.usageIdentifierKey).toBe(bearerClientUsageKey(USAGE_KEY, 'mobile'));
    expect(partner.usageIdentifierKey).toBe(bearerClientUsageKey(USAGE_KEY, 'partner'));
    expect(new Set([mobile.usageIdentifierKey, partner.usageIdentifierKey, USAGE_KEY]).size).toBe(3);
    expect(mobile.context).toMatchObject({ plan: 'mobile', keyId: keyId(bearerClientUsageKey(USAGE_KEY, 'mobile')) });
    expect(partner.context).toMatchObject({ plan: 'partner' });
  });

  it('GIVEN an unknown client THEN the default plan (shared by every unconfigured client)', async () => {
    const a = await authorize(event(`Bearer ${await jwks.sign({ sub: 'x', client_id: 'someone-new' })}`));
    const b = await authorize(event(`Bearer ${await jwks.sign({ sub: 'y', client_id: 'someone-else' })}`));
    expect(a.usageIdentifierKey).toBe(USAGE_KEY);
    expect(b.usageIdentifierKey).toBe(USAGE_KEY);
    expect(a.context).toMatchObject({ plan: 'default' });
  });

  it('GIVEN no client_id THEN `sub` names the client', async () => {
    const result = await authorize(event(`Bearer ${await jwks.sign({ sub: 'partner-portal' })}`));
    expect(result.usageIdentifierKey).toBe(bearerClientUsageKey(USAGE_KEY, 'partner'));
  });

  it('GIVEN a prototype key as client claim THEN the default plan, not a crash', async () => {
    const result = await authorize(event(`Bearer ${await jwks.sign({ sub: 'u', client_id: '__proto__' })}`));
    expect(result.usageIdentifierKey).toBe(USAGE_KEY);
  });

  it('reads the client from a configured claim (e.g. azp)', async () => {
    const byAzp = createAuthorizer({
      jwt: { issuer: jwks.issuer, audience: ['face-api'], jwksUri: jwks.jwksUri, clientClaim: 'azp' },
      bearerUsage: bearerUsageFromDefaultKey(async () => USAGE_KEY, clients),
      logger,
    });
    const result = await byAzp(event(`Bearer ${await jwks.sign({ sub: 'u', azp: 'mobile-app-7f3a', client_id: 'partner-portal' })}`));
    expect(result.usageIdentifierKey).toBe(bearerClientUsageKey(USAGE_KEY, 'mobile'));
  });

  it('GIVEN the default key is unavailable THEN fails with an error that is not Unauthorized (503)', async () => {
    const noKey = createAuthorizer({
      jwt: { issuer: jwks.issuer, audience: ['face-api'], jwksUri: jwks.jwksUri },
      bearerUsage: bearerUsageFromDefaultKey(async () => undefined, clients),
      logger,
    });
    await expect(noKey(event(`Bearer ${await jwks.sign({ sub: 'u', client_id: 'mobile-app-7f3a' })}`))).rejects.toThrow(/usage key unavailable/);
  });

  it('parseBearerClients refuses malformed JWT_CLIENTS', () => {
    expect(() => parseBearerClients('[1]')).toThrow(/JWT_CLIENTS/);
    expect(() => parseBearerClients('{"a": "Not A Name"}')).toThrow(/JWT_CLIENTS/);
    expect(() => parseBearerClients('{')).toThrow(/JWT_CLIENTS/);
    expect(parseBearerClients(undefined).size).toBe(0);
  });
});

describe('authorizer: token lifetime and refusal reasons (issue 10, points 2 and 4)', () => {
  let jwks: JwksServer;
  const logger = recordingLogger();
  let authorize: ReturnType<typeof createAuthorizer>;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    jwks = await startJwksServer();
    authorize = createAuthorizer({
      jwt: { issuer: jwks.issuer, audience: ['face-api'], jwksUri: jwks.jwksUri },
      bearerUsage: bearerUsageFromDefaultKey(async () => USAGE_KEY, new Map()),
      logger,
    });
  });
  afterAll(() => jwks.close());

  it('GIVEN a token without exp THEN Unauthorized, logged as missing-exp', async () => {
    const token = await jwks.sign({ sub: 'forever' }, { expiresIn: null });
    await expect(authorize(event(`Bearer ${token}`))).rejects.toThrow(/^Unauthorized$/);
    expect(lastReason(logger)).toBe('missing-exp');
  });

  it('GIVEN a lifetime over 24 h THEN Unauthorized (lifetime-too-long); exactly 24 h is accepted', async () => {
    const iat = now();
    await expect(authorize(event(`Bearer ${await jwks.sign({ sub: 'u' }, { issuedAt: iat, expiresIn: iat + 86_401 })}`))).rejects.toThrow(/^Unauthorized$/);
    expect(lastReason(logger)).toBe('lifetime-too-long');
    await expect(authorize(event(`Bearer ${await jwks.sign({ sub: 'u' }, { issuedAt: iat, expiresIn: iat + 86_400 })}`))).resolves.toMatchObject({ usageIdentifierKey: USAGE_KEY });
  });

  it('GIVEN no iat THEN the lifetime counts from now', async () => {
    await expect(authorize(event(`Bearer ${await jwks.sign({ sub: 'u' }, { issuedAt: null, expiresIn: now() + 30 * 86_400 })}`))).rejects.toThrow(/^Unauthorized$/);
    expect(lastReason(logger)).toBe('lifetime-too-long');
    await expect(authorize(event(`Bearer ${await jwks.sign({ sub: 'u' }, { issuedAt: null, expiresIn: '1h' })}`))).resolves.toBeDefined();
  });

  it('honours a configured maximum lifetime', async () => {
    const short = createAuthorizer({
      jwt: { issuer: jwks.issuer, audience: ['face-api'], jwksUri: jwks.jwksUri, maxLifetimeSeconds: 600 },
      bearerUsage: bearerUsageFromDefaultKey(async () => USAGE_KEY, new Map()),
      logger,
    });
    await expect(short(event(`Bearer ${await jwks.sign({ sub: 'u' }, { expiresIn: '15m' })}`))).rejects.toThrow(/^Unauthorized$/);
    await expect(short(event(`Bearer ${await jwks.sign({ sub: 'u' }, { expiresIn: '5m' })}`))).resolves.toBeDefined();
  });

  it.each([
    ['expired', () => jwks.sign({ sub: 'u' }, { issuedAt: now() - 600, expiresIn: now() - 60 })],
    ['audience', () => jwks.sign({ sub: 'u' }, { audience: 'someone-else' })],
    ['issuer', () => jwks.sign({ sub: 'u' }, { issuer: 'https://evil.example' })],
    ['unknown-key', () => jwks.sign({ sub: 'u' }, { kid: 'other-key' })],
    ['not-yet-valid', () => jwks.sign({ sub: 'u', nbf: now() + 3600 })],
    ['malformed', async () => 'eyJub3QiOiJqc29u.eyJzdWIiOiJ1In0.c2ln'],
    ['malformed', async () => 'abc'],
  ])('logs the fixed reason %s, never the token', async (reason, make) => {
    const token = await make();
    await expect(authorize(event(`Bearer ${token}`))).rejects.toThrow(/^Unauthorized$/);
    expect(lastReason(logger)).toBe(reason);
    expect(logger.text()).not.toContain(token);
  });

  it('logs signature for a token signed by another key under the same kid', async () => {
    const other = await startJwksServer();
    try {
      const forged = await other.sign({ sub: 'attacker' }, { issuer: jwks.issuer });
      await expect(authorize(event(`Bearer ${forged}`))).rejects.toThrow(/^Unauthorized$/);
      expect(lastReason(logger)).toBe('signature');
      expect(logger.text()).not.toContain(forged.split('.')[2]!);
    } finally {
      await other.close();
    }
  });
});

describe('jwksFetcher loopback (issue 10, point 5)', () => {
  it.each(['http://127.evil.example/jwks.json', 'http://127.0.0.1.nip.io/jwks.json', 'http://localhost.evil.example/jwks.json', 'http://10.0.0.1/jwks.json'])(
    'refuses plain http to %s without any network use',
    async (uri) => {
      const guard = installNetGuard();
      try {
        await expect(jwksFetcher(500).fetch(uri)).rejects.toThrow(/must be fetched over https/);
        expect(guard.violations).toEqual([]);
        expect(guard.connections).toEqual([]);
      } finally {
        guard.uninstall();
      }
    },
  );

  it('allows plain http to a loopback IP literal (a local identity provider)', async () => {
    const jwks = await startJwksServer();
    try {
      const body = await jwksFetcher(2000).fetch(jwks.jwksUri);
      expect(JSON.parse(Buffer.from(body).toString('utf8')).keys).toHaveLength(1);
    } finally {
      await jwks.close();
    }
  });
});
