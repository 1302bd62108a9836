/**
 * Issue 10, points 1, 3 and 10 in the template: each configured Bearer client
 * has its own key and usage plan (the key derived from the secret by
 * CloudFormation, never written into the template), the authorizer cache TTL
 * cannot let a token outlive its exp by more than 60 s, and the docs function
 * offers only the schemes the deployment accepts.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClientUsageKey, parseBearerClients } from '../../lambda/shared/authorizer.js';
import { ConfigError, parseConfig } from '../../lib/config.js';
import { resourcesOfType, synth, type Synthesized } from './synth.js';

function functionByDescription(template: Record<string, any>, pattern: RegExp): any {
  const found = resourcesOfType(template, 'AWS::Lambda::Function').filter(([, fn]) => pattern.test(fn.Properties.Description ?? ''));
  expect(found, `one function matching ${pattern}`).toHaveLength(1);
  return found[0]![1];
}

const JWT = {
  issuer: 'https://login.example.com/tenant',
  audience: ['face-api'],
  throttle: { rateLimit: 3, burstLimit: 6 },
  quota: { limit: 1000, period: 'DAY' as const },
  maxTokenLifetimeSeconds: 3600,
  clients: [
    { name: 'mobile', claimValue: '7f3a9c2e-mobile', throttle: { rateLimit: 20, burstLimit: 40 } },
    { name: 'partner', claimValue: 'partner-portal', quota: { limit: 50_000, period: 'MONTH' as const } },
  ],
};

describe('FaceApi with Bearer clients', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  beforeAll(() => {
    // With cdk-nag: the per-client keys and plans need no new acknowledgement.
    app = synth({ jwt: JWT, api: { quota: { limit: 9, period: 'WEEK' } } }, { nag: true });
    template = app.template('api');
    json = app.json('api');
  });
  afterAll(() => app.cleanup());

  it('THEN the authorizer learns the client claim, the lifetime cap and claim value -> client name (no key values)', () => {
    const variables = functionByDescription(json, /^REQUEST authorizer/).Properties.Environment.Variables;
    expect(variables).toMatchObject({ JWT_CLIENT_CLAIM: 'client_id', JWT_MAX_TOKEN_LIFETIME_SECONDS: '3600' });
    const clients = parseBearerClients(variables.JWT_CLIENTS);
    expect([...clients]).toEqual([['7f3a9c2e-mobile', 'mobile'], ['partner-portal', 'partner']]);
  });

  it('THEN each configured client has its own API key, derived by CloudFormation from the secret exactly as the authorizer derives it', () => {
    const keys = resourcesOfType(json, 'AWS::ApiGateway::ApiKey').map(([, k]) => k.Properties).filter((k) => k.Value !== undefined);
    expect(keys).toHaveLength(3);
    const [secretId] = resourcesOfType(json, 'AWS::SecretsManager::Secret')[0]!;
    const SEED = 'SEED-FROM-SECRET';
    const resolved = keys.map((k) => {
      // Every value is a Fn::Join around the dynamic reference: no literal key in the template.
      const [separator, parts] = k.Value['Fn::Join'];
      expect(separator).toBe('');
      expect(parts.slice(0, 3)).toEqual(['{{resolve:secretsmanager:', { Ref: secretId }, parts[2]]);
      expect(parts[2]).toMatch(/^:SecretString:::\}\}/);
      return parts[2].replace(/^:SecretString:::\}\}/, SEED);
    });
    expect(resolved.sort()).toEqual([SEED, bearerClientUsageKey(SEED, 'mobile'), bearerClientUsageKey(SEED, 'partner')].sort());
  });

  it('THEN each client has its own usage plan and limits; unconfigured clients share the default plan', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Description: 'Usage plan of Bearer client "mobile"', Throttle: { RateLimit: 20, BurstLimit: 40 }, Quota: { Limit: 1000, Period: 'DAY' } });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Description: 'Usage plan of Bearer client "partner"', Throttle: { RateLimit: 3, BurstLimit: 6 }, Quota: { Limit: 50_000, Period: 'MONTH' } });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Description: 'Usage plan of Bearer-token callers', Throttle: { RateLimit: 3, BurstLimit: 6 }, Quota: { Limit: 1000, Period: 'DAY' } });
    // One ApiKey client ("default") + the Bearer default plan + two Bearer clients, each key in exactly one plan.
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 4);
    const planOfKey = new Map(resourcesOfType(json, 'AWS::ApiGateway::UsagePlanKey').map(([, k]) => [k.Properties.KeyId.Ref, k.Properties.UsagePlanId.Ref]));
    expect(new Set(planOfKey.values()).size).toBe(4);
  });

  it('THEN each client\'s usage plan id is a stack output (for aws apigateway get-usage)', () => {
    const outputs = json.Outputs as Record<string, { Value: { Ref: string } }>;
    const plans = new Map(resourcesOfType(json, 'AWS::ApiGateway::UsagePlan').map(([id, plan]) => [id, plan.Properties.Description]));
    expect(plans.get(outputs.UsagePlanIdBearerMobile!.Value.Ref)).toBe('Usage plan of Bearer client "mobile"');
    expect(plans.get(outputs.UsagePlanIdBearerPartner!.Value.Ref)).toBe('Usage plan of Bearer client "partner"');
  });

  it('THEN the authorizer cache keeps an answer at most 60 s (a token outlives its exp by at most that)', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 60 });
  });

  it('THEN Swagger UI offers ApiKey and Bearer', () => {
    expect(functionByDescription(json, /^GET \/swagger/).Properties.Environment.Variables.AUTH_SCHEMES).toBe('ApiKey,Bearer');
  });
});

describe('FaceApi without a JWT issuer', () => {
  let app: Synthesized;
  beforeAll(() => {
    app = synth({});
  });
  afterAll(() => app.cleanup());

  it('THEN the cache TTL stays 300 s and Swagger UI offers ApiKey only', () => {
    app.template('api').hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 300 });
    expect(functionByDescription(app.json('api'), /^GET \/swagger/).Properties.Environment.Variables.AUTH_SCHEMES).toBe('ApiKey');
  });
});

describe('jwt configuration', () => {
  const error = (input: unknown) => {
    try {
      parseConfig(input);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('refuses an authorizer cache TTL over 60 s with Bearer tokens, naming the field', () => {
    expect(error({ jwt: { issuer: JWT.issuer, audience: ['a'] }, api: { authorizerCacheTtlSeconds: 300 } })).toContain('api.authorizerCacheTtlSeconds: must be at most 60 when jwt is configured');
    expect(parseConfig({ jwt: { issuer: JWT.issuer, audience: ['a'] }, api: { authorizerCacheTtlSeconds: 30 } }).api.authorizerCacheTtlSeconds).toBe(30);
    expect(parseConfig({ api: { authorizerCacheTtlSeconds: 900 } }).api.authorizerCacheTtlSeconds).toBe(900);
  });

  it('defaults the client claim to client_id and the lifetime cap to 24 h', () => {
    expect(parseConfig({ jwt: { issuer: JWT.issuer, audience: ['a'] } }).jwt).toMatchObject({ clientClaim: 'client_id', maxTokenLifetimeSeconds: 86_400, clients: [] });
  });

  it('refuses duplicate client names or claim values', () => {
    expect(error({ jwt: { issuer: JWT.issuer, audience: ['a'], clients: [{ name: 'a', claimValue: 'x' }, { name: 'a', claimValue: 'y' }] } })).toContain('jwt.clients: client name "a" is used twice');
    expect(error({ jwt: { issuer: JWT.issuer, audience: ['a'], clients: [{ name: 'a', claimValue: 'x' }, { name: 'b', claimValue: 'x' }] } })).toContain('jwt.clients.1.claimValue: is used by another client');
  });

  it('refuses API-key client names that would take the Bearer plans\' construct and output names', () => {
    expect(error({ jwt: { issuer: JWT.issuer, audience: ['a'], clients: [{ name: 'mobile', claimValue: 'x' }] }, api: { clients: [{ name: 'bearer-mobile' }] } })).toContain(
      'api.clients.0.name: "bearer-mobile" is reserved for the Bearer usage plans',
    );
    expect(error({ jwt: { issuer: JWT.issuer, audience: ['a'] }, api: { clients: [{ name: 'web' }, { name: 'bearer' }] } })).toContain('api.clients.1.name');
    expect(parseConfig({ api: { clients: [{ name: 'bearer-mobile' }] } }).api.clients[0]!.name).toBe('bearer-mobile');
  });

  it('refuses more clients than fit the authorizer environment', () => {
    const clients = Array.from({ length: 26 }, (_, i) => ({ name: `c${i}`, claimValue: `v${i}` }));
    expect(error({ jwt: { issuer: JWT.issuer, audience: ['a'], clients } })).toContain('jwt.clients');
  });
});
