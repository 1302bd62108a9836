/**
 * FaceApi: REST API with the key from the Authorization header, problem JSON
 * gateway responses, usage plans per client, WAF, access logs, tracing, the
 * handler functions and their wiring.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_FORMAT, gatewayResponseTemplate, pascal } from '../../lib/constructs/api.js';
import { PROBLEM_CONTENT_TYPE } from '../../lambda/shared/problem.js';
import { writeCalibratedTable } from './calibrated-table.js';
import { resourcesOfType, synth, type Synthesized } from './synth.js';

function functionByDescription(template: Record<string, any>, pattern: RegExp): [string, any] {
  const found = resourcesOfType(template, 'AWS::Lambda::Function').filter(([, fn]) => pattern.test(fn.Properties.Description ?? ''));
  expect(found, `one function matching ${pattern}`).toHaveLength(1);
  return found[0]!;
}

function methodAt(template: Record<string, any>, pathPart: string, verb: string): any {
  const resources = resourcesOfType(template, 'AWS::ApiGateway::Resource');
  const [resourceId] = resources.find(([, r]) => r.Properties.PathPart === pathPart) ?? [];
  expect(resourceId, `resource ${pathPart}`).toBeDefined();
  const method = resourcesOfType(template, 'AWS::ApiGateway::Method').find(([, m]) => m.Properties.ResourceId.Ref === resourceId && m.Properties.HttpMethod === verb);
  return method?.[1].Properties;
}

describe('FaceApi (default configuration)', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({ api: { throttle: { rateLimit: 25, burstLimit: 50 }, authorizerCacheTtlSeconds: 120 } });
    template = app.template('api');
    json = app.json('api');
  });
  afterAll(() => app.cleanup());

  it('GIVEN the default config WHEN synthesized THEN a regional REST API takes the key from the authorizer', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      ApiKeySourceType: 'AUTHORIZER',
      EndpointConfiguration: { Types: ['REGIONAL'] },
      Name: 'FaceVerification-dev-Api',
    });
  });

  it('THEN the REQUEST authorizer reads the Authorization header and caches its answer for the configured TTL', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 120,
    });
  });

  it('THEN the three POST methods need the authorizer and an API key', () => {
    for (const path of ['detect-faces', 'get-face-embeddings', 'compare-face-embeddings']) {
      expect(methodAt(json, path, 'POST')).toMatchObject({ AuthorizationType: 'CUSTOM', ApiKeyRequired: true, Integration: { Type: 'AWS_PROXY', TimeoutInMillis: 29000 } });
    }
  });

  it('THEN detect-faces and get-face-embeddings go to the proxy function, compare to the compare function', () => {
    const [proxyId] = functionByDescription(json, /^POST detect-faces/);
    const [compareId] = functionByDescription(json, /^POST compare-face-embeddings/);
    expect(JSON.stringify(methodAt(json, 'detect-faces', 'POST').Integration.Uri)).toContain(proxyId);
    expect(JSON.stringify(methodAt(json, 'get-face-embeddings', 'POST').Integration.Uri)).toContain(proxyId);
    expect(JSON.stringify(methodAt(json, 'compare-face-embeddings', 'POST').Integration.Uri)).toContain(compareId);
  });

  it('THEN the docs are public: GET /swagger and /swagger/{proxy+} without authorization', () => {
    expect(methodAt(json, 'swagger', 'GET')).toMatchObject({ AuthorizationType: 'NONE' });
    expect(methodAt(json, '{proxy+}', 'GET')).toMatchObject({ AuthorizationType: 'NONE' });
    expect(methodAt(json, '{proxy+}', 'GET').ApiKeyRequired).toBeUndefined();
  });

  it('THEN an invalid or missing key, a Deny and an unauthorised call are all 401 problem JSON bodies with the request id', () => {
    for (const type of ['UNAUTHORIZED', 'INVALID_API_KEY', 'ACCESS_DENIED', 'EXPIRED_TOKEN']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: '401',
        ResponseParameters: { 'gatewayresponse.header.Content-Type': `'${PROBLEM_CONTENT_TYPE}'`, 'gatewayresponse.header.WWW-Authenticate': "'ApiKey, Bearer'" },
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"status":401.*"requestId":"\\$context.requestId"') },
      });
    }
  });

  it('THEN throttling, quota, size, timeout, authorizer failure and unknown routes have their own status and problem body', () => {
    const expected: Record<string, string> = {
      THROTTLED: '429',
      QUOTA_EXCEEDED: '429',
      REQUEST_TOO_LARGE: '413',
      INTEGRATION_TIMEOUT: '504',
      INTEGRATION_FAILURE: '502',
      AUTHORIZER_FAILURE: '503',
      MISSING_AUTHENTICATION_TOKEN: '404',
      WAF_FILTERED: '403',
      UNSUPPORTED_MEDIA_TYPE: '415',
    };
    const responses = Object.fromEntries(resourcesOfType(json, 'AWS::ApiGateway::GatewayResponse').map(([, r]) => [r.Properties.ResponseType, r.Properties]));
    for (const [type, status] of Object.entries(expected)) {
      expect(responses[type], type).toMatchObject({ StatusCode: status });
      const body = JSON.parse(responses[type].ResponseTemplates['application/json']);
      expect(body).toMatchObject({ status: Number(status), requestId: '$context.requestId', type: expect.stringMatching(/^urn:face-verification:problem:/) });
    }
    expect(responses.DEFAULT_4XX.StatusCode).toBeUndefined();
    expect(JSON.parse(responses.DEFAULT_5XX.ResponseTemplates['application/json'])).toMatchObject({ type: 'about:blank', requestId: '$context.requestId' });
  });

  it('THEN the stage logs JSON access lines, traces with X-Ray, logs errors without data tracing and throttles', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      AccessLogSetting: { Format: ACCESS_LOG_FORMAT, DestinationArn: Match.anyValue() },
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', DataTraceEnabled: false, MetricsEnabled: true, ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50, HttpMethod: '*', ResourcePath: '/*' })],
    });
  });

  it('THEN the default client has its own API key (value generated by API Gateway) and usage plan on the stage', () => {
    const keys = resourcesOfType(json, 'AWS::ApiGateway::ApiKey');
    expect(keys).toHaveLength(1);
    expect(keys[0]![1].Properties.Value).toBeUndefined();
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 25, BurstLimit: 50 },
      ApiStages: [Match.objectLike({ Stage: { Ref: Match.stringLikeRegexp('DeploymentStage') } })],
    });
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  });

  it('THEN a regional WAF web ACL with the common rules (8 KB body rule counted) and a per-IP rate rule guards the stage', () => {
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: [
        Match.objectLike({ Name: 'BodyOverLambdaLimit', Action: { Block: { CustomResponse: { ResponseCode: 413, CustomResponseBodyKey: 'payload-too-large' } } } }),
        Match.objectLike({
          Name: 'AWSManagedRulesCommonRuleSet',
          Statement: { ManagedRuleGroupStatement: Match.objectLike({ VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet', RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }] }) },
        }),
        Match.objectLike({
          Name: 'RateLimitPerIp',
          Action: { Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: 'too-many-requests' } } },
          // Derived: the fastest plan (the stage's 25 rps here) for 300 s.
          Statement: { RateBasedStatement: { Limit: 7500, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
        }),
      ],
      VisibilityConfig: Match.objectLike({ SampledRequestsEnabled: false }),
    });
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/stages/$'), { Ref: Match.stringLikeRegexp('DeploymentStage') }])] },
    });
  });

  it('THEN every function is nodejs24.x on arm64 with X-Ray, JSON logs, source maps and Powertools settings', () => {
    const functions = resourcesOfType(json, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(6);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' }, LoggingConfig: expect.objectContaining({ LogFormat: 'JSON' }) });
      expect(fn.Properties.Environment.Variables).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: expect.stringMatching(/^face-/),
        POWERTOOLS_METRICS_NAMESPACE: 'FaceVerification',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      });
    }
  });

  it('THEN each function logs to its own log group with the configured retention', () => {
    const groups = resourcesOfType(json, 'AWS::Logs::LogGroup');
    for (const [, fn] of resourcesOfType(json, 'AWS::Lambda::Function')) {
      const group = fn.Properties.LoggingConfig.LogGroup.Ref;
      expect(groups.find(([id]) => id === group)?.[1].Properties.RetentionInDays).toBe(365);
    }
  });

  it('THEN the proxy runs in the VPC with the client security group, knows the ALB and fetch-image, and may invoke fetch-image only', () => {
    const [proxyId, proxy] = functionByDescription(json, /^POST detect-faces/);
    const [fetchId, fetchImage] = functionByDescription(json, /^Downloads a client image\.url/);
    expect(proxy.Properties.VpcConfig.SecurityGroupIds).toHaveLength(1);
    expect(JSON.stringify(proxy.Properties.VpcConfig.SecurityGroupIds)).toMatch(/ClientSecurityGroup/);
    expect(proxy.Properties.Environment.Variables).toMatchObject({ BACKEND_TIMEOUT_MS: '25000', FETCH_IMAGE_FUNCTION_NAME: { Ref: fetchId } });
    expect(JSON.stringify(proxy.Properties.Environment.Variables.BACKEND_URL)).toMatch(/^\{"Fn::Join":\["",\["http:\/\/",.*LoadBalancer.*DNSName/);
    const roleId = proxy.Properties.Role['Fn::GetAtt'][0];
    const statements = resourcesOfType(json, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const invoke = statements.filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    expect(invoke).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [fetchId, 'Arn'] } })]);
    expect(fetchImage.Properties.VpcConfig).toBeUndefined();
    expect(fetchImage.Properties.Environment.Variables).toMatchObject({ IMAGE_FETCH_ALLOW_CIDRS: '', IMAGE_FETCH_MAX_BYTES: '4194304', IMAGE_FETCH_TIMEOUT_MS: '10000' });
    expect(proxyId).not.toBe(fetchId);
  });

  it('THEN verify-faces (extension) needs the authorizer and an API key and goes to its own function', () => {
    const [verifyId] = functionByDescription(json, /^POST verify-faces/);
    const method = methodAt(json, 'verify-faces', 'POST');
    expect(method).toMatchObject({ AuthorizationType: 'CUSTOM', ApiKeyRequired: true, Integration: { Type: 'AWS_PROXY', TimeoutInMillis: 29000 } });
    expect(method.AuthorizerId).toEqual(methodAt(json, 'detect-faces', 'POST').AuthorizerId);
    expect(JSON.stringify(method.Integration.Uri)).toContain(verifyId);
    // No method throttle anywhere: each usage plan's throttle and quota cover it as they cover the vendor operations.
    for (const [, plan] of resourcesOfType(json, 'AWS::ApiGateway::UsagePlan')) {
      for (const stage of plan.Properties.ApiStages) expect(stage.Throttle ?? {}).toEqual({});
    }
  });

  it('THEN verify-faces runs in the VPC like the proxy, scores like compare, and may invoke fetch-image only', () => {
    const [, verify] = functionByDescription(json, /^POST verify-faces/);
    const [, compare] = functionByDescription(json, /^POST compare-face-embeddings/);
    const [fetchId] = functionByDescription(json, /^Downloads a client image\.url/);
    expect(JSON.stringify(verify.Properties.VpcConfig.SecurityGroupIds)).toMatch(/ClientSecurityGroup/);
    expect(verify.Properties.Timeout).toBe(30);
    const variables = verify.Properties.Environment.Variables;
    expect(variables).toMatchObject({ COMPARE_MODE: compare.Properties.Environment.Variables.COMPARE_MODE, BACKEND_TIMEOUT_MS: '25000', FETCH_IMAGE_FUNCTION_NAME: { Ref: fetchId } });
    expect(variables.BACKEND_URL).toEqual(compare.Properties.Environment.Variables.BACKEND_URL);
    const roleId = verify.Properties.Role['Fn::GetAtt'][0];
    const statements = resourcesOfType(json, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const invoke = statements.filter((st) => [st.Action].flat().includes('lambda:InvokeFunction'));
    expect(invoke).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [fetchId, 'Arn'] } })]);
  });

  it('THEN compare forwards to the container from the VPC, the authorizer and docs stay outside the VPC', () => {
    const [, compare] = functionByDescription(json, /^POST compare-face-embeddings/);
    expect(compare.Properties.Environment.Variables).toMatchObject({ COMPARE_MODE: 'forward', BACKEND_TIMEOUT_MS: '25000', BACKEND_URL: expect.anything() });
    expect(compare.Properties.VpcConfig).toBeDefined();
    const [, authorizer] = functionByDescription(json, /^REQUEST authorizer/);
    expect(authorizer.Properties.VpcConfig).toBeUndefined();
    expect(authorizer.Properties.Environment.Variables.JWT_ISSUER).toBeUndefined();
    const [, docs] = functionByDescription(json, /^GET \/swagger/);
    expect(docs.Properties.VpcConfig).toBeUndefined();
    expect(docs.Properties.Environment.Variables.SWAGGER_UI_DIR).toBe('/var/task/swagger-ui');
  });

  it('THEN function roles write only to their own log group (no AWSLambdaBasicExecutionRole)', () => {
    const policies = resourcesOfType(json, 'AWS::IAM::Role').flatMap(([, r]) => r.Properties.ManagedPolicyArns ?? []);
    expect(JSON.stringify(policies)).not.toContain('AWSLambdaBasicExecutionRole');
    const logStatements = resourcesOfType(json, 'AWS::IAM::Policy')
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
      .filter((s) => [s.Action].flat().includes('logs:PutLogEvents'));
    expect(logStatements.length).toBeGreaterThanOrEqual(5);
    for (const statement of logStatements) expect(statement.Resource).not.toBe('*');
  });
});

describe('FaceApi with Bearer JWT, private docs, a custom domain, no WAF, a score table and two clients', () => {
  let app: Synthesized;
  let template: Template;
  let json: Record<string, any>;
  beforeAll(() => {
    app = synth({
      jwt: { issuer: 'https://login.example.com/tenant', audience: ['face-api', 'face-admin'], jwksUri: 'https://login.example.com/keys' },
      compare: { mode: 'table', scoreTableFile: writeCalibratedTable() },
      api: {
        docs: 'private',
        waf: { enabled: false },
        quota: { limit: 10000, period: 'DAY' },
        clients: [{ name: 'mobile-app', throttle: { rateLimit: 5, burstLimit: 10 } }, { name: 'backoffice', quota: { limit: 500, period: 'MONTH' } }],
        customDomain: { domainName: 'face.example.com', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc', hostedZoneId: 'Z0123456789ABC', hostedZoneName: 'example.com' },
      },
    });
    template = app.template('api');
    json = app.json('api');
  });
  afterAll(() => app.cleanup());

  it('GIVEN jwt WHEN synthesized THEN the authorizer gets issuer, audiences, JWKS and the usage key secret it may read', () => {
    const [, authorizer] = functionByDescription(json, /^REQUEST authorizer/);
    const variables = authorizer.Properties.Environment.Variables;
    expect(variables).toMatchObject({ JWT_ISSUER: 'https://login.example.com/tenant', JWT_AUDIENCE: 'face-api,face-admin', JWT_JWKS_URI: 'https://login.example.com/keys' });
    const [secretId] = resourcesOfType(json, 'AWS::SecretsManager::Secret')[0]!;
    expect(variables.JWT_USAGE_KEY_SECRET_ID).toEqual({ Ref: secretId });
    const roleId = authorizer.Properties.Role['Fn::GetAtt'][0];
    const statements = resourcesOfType(json, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({ Action: expect.arrayContaining(['secretsmanager:GetSecretValue']), Resource: { Ref: secretId } })]));
  });

  it('THEN the Bearer usage key takes its value from the secret by dynamic reference: no key value is in the template', () => {
    const keys = resourcesOfType(json, 'AWS::ApiGateway::ApiKey').map(([, k]) => k.Properties);
    expect(keys).toHaveLength(3);
    const bearer = keys.filter((k) => k.Value !== undefined);
    expect(bearer).toHaveLength(1);
    expect(JSON.stringify(bearer[0].Value)).toMatch(/^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:",\{"Ref":"ApiBearerUsageKey[0-9A-F]+"\},":SecretString:::\}\}"\]\]\}$/);
  });

  it('THEN each client has its own plan: its own throttle, or the API quota, or its own quota', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Description: 'Usage plan of client "mobile-app"', Throttle: { RateLimit: 5, BurstLimit: 10 }, Quota: { Limit: 10000, Period: 'DAY' } });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Description: 'Usage plan of client "backoffice"', Quota: { Limit: 500, Period: 'MONTH' } });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Description: 'Usage plan of Bearer-token callers' });
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 3);
    expect(pascal('mobile-app')).toBe('MobileApp');
  });

  it('THEN private docs need the authorizer and a key', () => {
    expect(methodAt(json, '{proxy+}', 'GET')).toMatchObject({ AuthorizationType: 'CUSTOM', ApiKeyRequired: true });
  });

  it('THEN there is no WAF', () => {
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });

  it('THEN compare answers from the bundled score table, in the VPC so that it can fall back to the container', () => {
    const [, compare] = functionByDescription(json, /^POST compare-face-embeddings/);
    expect(compare.Properties.Environment.Variables).toMatchObject({ COMPARE_MODE: 'table', SCORE_TABLE: 'score-table.json' });
    expect(compare.Properties.Environment.Variables.BACKEND_URL).toBeDefined();
    expect(compare.Properties.Environment.Variables.COMPARE_MODE_SECRET_ID).toBeDefined();
    expect(compare.Properties.VpcConfig).toBeDefined();
  });

  it('THEN verify-faces scores from the same bundled table and switch as compare, and may read the switch', () => {
    const [, verify] = functionByDescription(json, /^POST verify-faces/);
    const [, compare] = functionByDescription(json, /^POST compare-face-embeddings/);
    const variables = verify.Properties.Environment.Variables;
    expect(variables).toMatchObject({ COMPARE_MODE: 'table', SCORE_TABLE: 'score-table.json' });
    expect(variables.COMPARE_MODE_SECRET_ID).toEqual(compare.Properties.Environment.Variables.COMPARE_MODE_SECRET_ID);
    const roleId = verify.Properties.Role['Fn::GetAtt'][0];
    const actions = resourcesOfType(json, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
      .flatMap((st) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue', 'lambda:InvokeFunction']));
    expect(actions).not.toContain('secretsmanager:PutSecretValue');
  });

  it('THEN the custom domain is regional with TLS 1.2, mapped to the stage, with an alias record in the given zone', () => {
    template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'face.example.com',
      RegionalCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
      EndpointConfiguration: { Types: ['REGIONAL'] },
      SecurityPolicy: 'TLS_1_2',
    });
    template.resourceCountIs('AWS::ApiGateway::BasePathMapping', 1);
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'face.example.com.', Type: 'A', HostedZoneId: 'Z0123456789ABC' });
    const outputs = json.Outputs as Record<string, any>;
    expect(outputs.ApiUrl.Value).toBe('https://face.example.com/');
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['CustomDomainTarget', 'ExecuteApiUrl', 'ApiKeyIdMobileApp', 'UsagePlanIdBackoffice', 'ApiKeyIdBearer', 'UsagePlanIdBearer']));
  });
});

describe('FaceApi with docs off', () => {
  let app: Synthesized;
  beforeAll(() => {
    app = synth({ api: { docs: 'off' } });
  });
  afterAll(() => app.cleanup());

  it('GIVEN docs off WHEN synthesized THEN there is no docs function, no /swagger route and no SwaggerUrl output', () => {
    const json = app.json('api');
    expect(resourcesOfType(json, 'AWS::ApiGateway::Resource').map(([, r]) => r.Properties.PathPart)).not.toContain('swagger');
    expect(resourcesOfType(json, 'AWS::Lambda::Function')).toHaveLength(5);
    expect(json.Outputs.SwaggerUrl).toBeUndefined();
  });
});

describe('gatewayResponseTemplate', () => {
  it('renders problem JSON for a known kind and about:blank for the defaults', () => {
    expect(JSON.parse(gatewayResponseTemplate('unauthorized', 'x'))).toEqual({
      type: 'urn:face-verification:problem:unauthorized',
      title: 'Missing or invalid authentication',
      status: 401,
      detail: 'x',
      requestId: '$context.requestId',
    });
    expect(JSON.parse(gatewayResponseTemplate('default-5xx', 'y'))).toEqual({ type: 'about:blank', title: 'Internal error', detail: 'y', requestId: '$context.requestId' });
  });

  it('the access log format is JSON with a numeric status once API Gateway fills it in', () => {
    const line = ACCESS_LOG_FORMAT.replace('$context.status', '429').replace(/\$context\.[a-zA-Z.]+/g, 'v');
    expect(JSON.parse(line)).toMatchObject({ status: 429, requestId: 'v' });
    expect(ACCESS_LOG_FORMAT).not.toMatch(/authorization|apiKey"|\$input|requestOverride|header/i);
  });
});

describe('FaceApi with api.cors', () => {
  const APP = 'https://app.example.com';
  const ADMIN = 'https://admin.example.com';

  it('GIVEN two allowed origins WHEN synthesized (with cdk-nag) THEN every resource has an OPTIONS mock preflight without authorizer or key', () => {
    // cdk-nag stays quiet: its API Gateway rules exempt OPTIONS (preflight) methods, so nothing is acknowledged for them.
    const app = synth({ api: { cors: { allowOrigins: [APP, ADMIN] } } }, { nag: true });
    try {
      const json = app.json('api');
      const options = resourcesOfType(json, 'AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod === 'OPTIONS');
      // root, v1, face-verification, the four operations, swagger and swagger/{proxy+}
      expect(options.length).toBe(resourcesOfType(json, 'AWS::ApiGateway::Resource').length + 1);
      for (const [, method] of options) {
        expect(method.Properties.AuthorizationType).toBe('NONE');
        expect(method.Properties.ApiKeyRequired).toBe(false);
        expect(method.Properties.Integration.Type).toBe('MOCK');
        const params = method.Properties.Integration.IntegrationResponses[0].ResponseParameters;
        expect(params['method.response.header.Access-Control-Allow-Origin']).toBe(`'${APP}'`);
        expect(params['method.response.header.Access-Control-Allow-Headers']).toBe("'Authorization,Content-Type'");
        expect(params['method.response.header.Access-Control-Allow-Methods']).toBe("'GET,POST,OPTIONS'");
        expect(params['method.response.header.Access-Control-Max-Age']).toBe("'600'");
        // With several origins, the mapping template echoes the request's Origin when it is one of them.
        expect(method.Properties.Integration.IntegrationResponses[0].ResponseTemplates['application/json']).toContain(ADMIN);
      }
      const post = methodAt(json, 'detect-faces', 'POST');
      expect(post.AuthorizationType).toBe('CUSTOM');
      expect(methodAt(json, 'detect-faces', 'OPTIONS')).toBeDefined();
    } finally {
      app.cleanup();
    }
  });

  it('GIVEN two allowed origins WHEN synthesized THEN every gateway response (401, 429, 4XX, 5XX ...) carries "*" and the handlers get CORS_ALLOW_ORIGINS', () => {
    const app = synth({ api: { cors: { allowOrigins: [APP, ADMIN] } } });
    try {
      const json = app.json('api');
      const responses = resourcesOfType(json, 'AWS::ApiGateway::GatewayResponse');
      expect(responses.length).toBeGreaterThanOrEqual(15);
      for (const [, response] of responses) {
        expect(response.Properties.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin'], response.Properties.ResponseType).toBe("'*'");
        expect(response.Properties.ResponseParameters['gatewayresponse.header.Access-Control-Expose-Headers']).toBe("'x-request-id, retry-after'");
      }
      for (const pattern of [/^POST detect-faces/, /^POST compare-face-embeddings/, /^GET \/swagger/]) {
        const [, fn] = functionByDescription(json, pattern);
        expect(fn.Properties.Environment.Variables.CORS_ALLOW_ORIGINS, String(pattern)).toBe(`${APP},${ADMIN}`);
      }
    } finally {
      app.cleanup();
    }
  });

  it('GIVEN one allowed origin WHEN synthesized THEN the 401 gateway response names exactly that origin', () => {
    const app = synth({ api: { cors: { allowOrigins: [APP] } } });
    try {
      const unauthorized = resourcesOfType(app.json('api'), 'AWS::ApiGateway::GatewayResponse').find(([, r]) => r.Properties.ResponseType === 'UNAUTHORIZED')!;
      expect(unauthorized[1].Properties.StatusCode).toBe('401');
      expect(unauthorized[1].Properties.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin']).toBe(`'${APP}'`);
    } finally {
      app.cleanup();
    }
  });

  it('GIVEN the default config (no origins) WHEN synthesized THEN there is no OPTIONS method and no CORS header anywhere', () => {
    const app = synth({});
    try {
      const json = app.json('api');
      expect(resourcesOfType(json, 'AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod === 'OPTIONS')).toEqual([]);
      expect(JSON.stringify(json)).not.toMatch(/Access-Control-Allow-Origin|CORS_ALLOW_ORIGINS/);
    } finally {
      app.cleanup();
    }
  });
});
