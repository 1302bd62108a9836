/**
 * The public face: a regional REST API that reads the key from the
 * `Authorization` header through a REQUEST authorizer (`apiKeySourceType:
 * AUTHORIZER`), meters each client with its own key and usage plan, answers
 * every gateway error with a problem JSON body (a missing or invalid key is a
 * 401, as the vendor answers), logs JSON access lines, traces with X-Ray, and
 * sits behind a WAFv2 web ACL. Routes go to the handler functions of
 * DESIGN.md: proxy (in the VPC, to the internal ALB), compare, docs.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { bearerClientUsageKey } from '../../lambda/shared/authorizer.js';
import { DEFAULT_BATCH_CONCURRENCY } from '../../lambda/shared/compare-batch.js';
import { CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS, staticAllowOrigin } from '../../lambda/shared/cors.js';
import { AUTH_SCHEMES_ENV, SWAGGER_UI_ASSETS } from '../../lambda/shared/docs.js';
import { LIMITS } from '../../lambda/shared/limits.js';
import { PROBLEM_CONTENT_TYPE, PROBLEM_KINDS, problem, type ProblemKind } from '../../lambda/shared/problem.js';
import { authorizerCacheTtlSeconds, projectPath, wafRateLimitPer5Minutes, type AppConfig } from '../config.js';
import { acknowledgeControlTower } from '../control-tower.js';
import { HandlerFunction } from './handler-function.js';

/** The API's routes (vendor guide paths). */
export const ROUTES = {
  detectFaces: ['v1', 'face-verification', 'detect-faces'],
  getFaceEmbeddings: ['v1', 'face-verification', 'get-face-embeddings'],
  compareFaceEmbeddings: ['v1', 'face-verification', 'compare-face-embeddings'],
  /** Extension (issue 11): on the compare function, behind the same authorizer and usage plans. */
  compareFaceEmbeddingsBatch: ['v1', 'face-verification', 'compare-face-embeddings-batch'],
  /** Extension (not in the vendor's API): two images, one similarity. */
  verifyFaces: ['v1', 'face-verification', 'verify-faces'],
} as const;

/** Where the docs function finds swagger-ui-dist's files inside its bundle. */
export const SWAGGER_UI_BUNDLE_DIR = 'swagger-ui';
/** The score table's file name inside the compare bundle. */
export const SCORE_TABLE_BUNDLE_FILE = 'score-table.json';

export interface FaceApiProps {
  /** Stage, throttle, quota, clients, WAF, domain, docs. */
  readonly config: AppConfig['api'];
  /** Bearer JWT settings. @default Bearer tokens are refused */
  readonly jwt?: AppConfig['jwt'];
  /** Score table or forward. */
  readonly compare: AppConfig['compare'];
  /** Table mode: the live check's switch, read by compare with a short cache. @default no switch (table mode answers from the table only) */
  readonly compareModeFlag?: secretsmanager.ISecret;
  /** fetch-image limits. */
  readonly imageFetch: AppConfig['imageFetch'];
  /** The VPC the proxy (and a forwarding compare) runs in. */
  readonly vpc: ec2.IVpc;
  /** Subnets for the in-VPC functions. */
  readonly subnets: ec2.SubnetSelection;
  /** The backend: its URL and the security group that may reach it. */
  readonly backend: { readonly url: string; readonly clientSecurityGroup: ec2.ISecurityGroup };
  /** Retention of every log group here. */
  readonly logRetention: logs.RetentionDays;
  /** Project root (for the score table path). @default the project root */
  readonly projectDir?: string;
}

/** A named client's key and plan. */
export interface ApiClient {
  readonly name: string;
  readonly apiKey: apigw.ApiKey;
  readonly usagePlan: apigw.UsagePlan;
}

/** Gateway responses customised to problem JSON: response type -> status and problem kind/detail. */
const GATEWAY_RESPONSES: ReadonlyArray<{ id: string; type: apigw.ResponseType; status: number; kind: ProblemKind | 'default-4xx' | 'default-5xx'; detail: string }> = [
  { id: 'Unauthorized', type: apigw.ResponseType.UNAUTHORIZED, status: 401, kind: 'unauthorized', detail: 'Send "Authorization: ApiKey <key>" or "Authorization: Bearer <jwt>".' },
  // The authorizer's Deny and an unknown/disabled key are a 401 at the vendor too (API Gateway's default is 403).
  { id: 'AccessDenied', type: apigw.ResponseType.ACCESS_DENIED, status: 401, kind: 'unauthorized', detail: 'The credentials in the Authorization header were refused.' },
  { id: 'InvalidApiKey', type: apigw.ResponseType.INVALID_API_KEY, status: 401, kind: 'unauthorized', detail: 'The API key is missing, unknown or disabled.' },
  { id: 'ExpiredToken', type: apigw.ResponseType.EXPIRED_TOKEN, status: 401, kind: 'unauthorized', detail: 'The token has expired.' },
  { id: 'Throttled', type: apigw.ResponseType.THROTTLED, status: 429, kind: 'too-many-requests', detail: 'Rate limit exceeded; retry later.' },
  { id: 'QuotaExceeded', type: apigw.ResponseType.QUOTA_EXCEEDED, status: 429, kind: 'too-many-requests', detail: 'The quota of this API key is used up for the current period.' },
  { id: 'RequestTooLarge', type: apigw.ResponseType.REQUEST_TOO_LARGE, status: 413, kind: 'payload-too-large', detail: `The request body must be at most ${LIMITS.maxRequestBodyBytes} bytes.` },
  { id: 'UnsupportedMediaType', type: apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, status: 415, kind: 'unsupported-media-type', detail: 'Send the request body as application/json.' },
  { id: 'BadRequestBody', type: apigw.ResponseType.BAD_REQUEST_BODY, status: 400, kind: 'validation-error', detail: 'The request body is not valid.' },
  // REST APIs answer an unknown path or method with 403 "Missing Authentication Token"; a client expects 404.
  { id: 'MissingAuthenticationToken', type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, status: 404, kind: 'not-found', detail: 'No such resource or method.' },
  { id: 'ResourceNotFound', type: apigw.ResponseType.RESOURCE_NOT_FOUND, status: 404, kind: 'not-found', detail: 'No such resource.' },
  { id: 'WafFiltered', type: apigw.ResponseType.WAF_FILTERED, status: 403, kind: 'forbidden', detail: 'The request was blocked by the web application firewall.' },
  { id: 'IntegrationTimeout', type: apigw.ResponseType.INTEGRATION_TIMEOUT, status: 504, kind: 'gateway-timeout', detail: 'The face verification backend did not answer in time.' },
  { id: 'IntegrationFailure', type: apigw.ResponseType.INTEGRATION_FAILURE, status: 502, kind: 'bad-gateway', detail: 'The request could not be handled.' },
  // The authorizer throws anything but "Unauthorized" when the JWKS or the usage key is unavailable.
  { id: 'AuthorizerFailure', type: apigw.ResponseType.AUTHORIZER_FAILURE, status: 503, kind: 'service-unavailable', detail: 'Authentication is temporarily unavailable; retry later.' },
  { id: 'AuthorizerConfigurationError', type: apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR, status: 503, kind: 'service-unavailable', detail: 'Authentication is temporarily unavailable; retry later.' },
  { id: 'Default4xx', type: apigw.ResponseType.DEFAULT_4XX, status: 0, kind: 'default-4xx', detail: 'The request was refused.' },
  { id: 'Default5xx', type: apigw.ResponseType.DEFAULT_5XX, status: 0, kind: 'default-5xx', detail: 'The request could not be handled.' },
];

/**
 * The problem JSON mapping template of a gateway response. `$context.requestId`
 * is the only VTL in it; the status of DEFAULT_4XX/5XX is not known to the
 * template, so those bodies leave `status` out (it is optional in RFC 9457).
 */
export function gatewayResponseTemplate(kind: ProblemKind | 'default-4xx' | 'default-5xx', detail: string): string {
  const requestId = '$context.requestId';
  if (kind === 'default-4xx' || kind === 'default-5xx') {
    // RFC 9457 "about:blank": no meaning beyond the HTTP status code itself.
    const title = kind === 'default-4xx' ? 'Request refused' : PROBLEM_KINDS['internal-error'].title;
    return JSON.stringify({ type: 'about:blank', title, detail, requestId });
  }
  return JSON.stringify(problem(kind, detail, requestId));
}

/** The JSON access log line: request metadata only (never headers, bodies or keys). */
export const ACCESS_LOG_FORMAT = [
  '{"requestId":"$context.requestId"',
  '"requestTime":"$context.requestTime"',
  '"ip":"$context.identity.sourceIp"',
  '"method":"$context.httpMethod"',
  '"resourcePath":"$context.resourcePath"',
  // Unquoted so that metric filters can compare numbers ({ $.status = 429 }).
  '"status":$context.status',
  '"responseLatency":"$context.responseLatency"',
  '"integrationLatency":"$context.integrationLatency"',
  '"responseLength":"$context.responseLength"',
  '"errorType":"$context.error.responseType"',
  '"authorizerError":"$context.authorizer.error"',
  '"apiKeyId":"$context.identity.apiKeyId"',
  '"principalId":"$context.authorizer.principalId"',
  '"wafStatus":"$context.waf.status"',
  '"xrayTraceId":"$context.xrayTraceId"}',
].join(',');

/** The REST API, its functions, keys, plans and firewall. */
export class FaceApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly authorizer: apigw.RequestAuthorizer;
  public readonly accessLogGroup: logs.LogGroup;
  public readonly functions: {
    readonly authorizer: HandlerFunction;
    readonly proxy: HandlerFunction;
    readonly fetchImage: HandlerFunction;
    readonly compare: HandlerFunction;
    /** verify-faces (extension). */
    readonly verifyFaces: HandlerFunction;
    readonly docs?: HandlerFunction;
  };
  /** One per configured client. */
  public readonly clients: ApiClient[] = [];
  /** The default plan of Bearer clients (shared by every unconfigured client): key (value generated into a secret) and plan. */
  public readonly bearer?: { readonly apiKey: apigw.ApiKey; readonly usagePlan: apigw.UsagePlan; readonly secret: secretsmanager.Secret };
  /** One per configured Bearer client (`jwt.clients`): its own key (derived from the secret) and plan. */
  public readonly bearerClients: ApiClient[] = [];
  public readonly webAcl?: wafv2.CfnWebACL;
  public readonly domainName?: apigw.DomainName;
  /** The base URL clients call (custom domain when configured). */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: FaceApiProps) {
    super(scope, id);
    const { config, vpc, subnets, logRetention } = props;
    const inVpc = { vpc, vpcSubnets: subnets, securityGroups: [props.backend.clientSecurityGroup] };
    // Browser apps allowed to read the answers (api.cors): the handlers echo an allowed Origin.
    const allowOrigins = config.cors.allowOrigins;
    const corsEnvironment: Record<string, string> = allowOrigins.length > 0 ? { CORS_ALLOW_ORIGINS: allowOrigins.join(',') } : {};

    // --- functions (environment variable and its grant side by side) ---
    const fetchImage = new HandlerFunction(this, 'FetchImage', {
      handler: 'fetch-image',
      description: 'Downloads a client image.url for the proxy (no VPC: internet egress, no route into the VPC)',
      logRetention,
      memorySize: 512,
      timeout: Duration.millis(props.imageFetch.timeoutMs + 5000),
      // DESIGN.md: the downloader of client-chosen URLs has internet egress and no route into the VPC (SSRF).
      outsideVpcReason: 'it downloads client-chosen image URLs from the internet and must have no route to the VPC, the ALB or the instance metadata of anything inside (SSRF containment).',
      environment: {
        IMAGE_FETCH_ALLOW_CIDRS: props.imageFetch.allowCidrs.join(','),
        IMAGE_FETCH_MAX_BYTES: String(props.imageFetch.maxBytes),
        IMAGE_FETCH_TIMEOUT_MS: String(props.imageFetch.timeoutMs),
      },
    });

    const proxy = new HandlerFunction(this, 'Proxy', {
      handler: 'proxy',
      description: 'POST detect-faces / get-face-embeddings -> internal ALB -> vendor container',
      logRetention,
      memorySize: 1024,
      // API Gateway gives up at 29 s; the proxy's request deadline (lambda/shared/deadline.ts) ends at 28 s and answers 504 itself.
      timeout: Duration.seconds(30),
      ...inVpc,
      environment: {
        BACKEND_URL: props.backend.url,
        BACKEND_TIMEOUT_MS: String(LIMITS.defaultBackendTimeoutMs),
        FETCH_IMAGE_FUNCTION_NAME: fetchImage.fn.functionName,
        ...corsEnvironment,
      },
    });
    // The proxy invokes the unqualified function by name: no version or alias ARNs needed.
    proxy.role.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fetchImage.fn.functionArn] }));

    const compareEnvironment: Record<string, string> = { COMPARE_MODE: props.compare.mode, ...corsEnvironment };
    let afterCompareBundling: ((inputDir: string, outputDir: string) => string[]) | undefined;
    if (props.compare.mode === 'table') {
      const tableFile = projectPath(props.compare.scoreTableFile, props.projectDir);
      compareEnvironment.SCORE_TABLE = SCORE_TABLE_BUNDLE_FILE;
      afterCompareBundling = (_inputDir, outputDir) => [`cp "${tableFile}" "${outputDir}/${SCORE_TABLE_BUNDLE_FILE}"`];
    }
    // Forward mode, and table mode's fallback when the live check flips the switch (docs/score-table.md).
    compareEnvironment.BACKEND_URL = props.backend.url;
    compareEnvironment.BACKEND_TIMEOUT_MS = String(LIMITS.defaultBackendTimeoutMs);
    // compare-face-embeddings-batch in forward mode: backend calls in flight per batch (why 8: lambda/shared/compare-batch.ts).
    compareEnvironment.COMPARE_BATCH_CONCURRENCY = String(DEFAULT_BATCH_CONCURRENCY);
    if (props.compare.mode === 'table' && props.compareModeFlag) compareEnvironment.COMPARE_MODE_SECRET_ID = props.compareModeFlag.secretArn;
    const compare = new HandlerFunction(this, 'Compare', {
      handler: 'compare',
      description: `POST compare-face-embeddings and -batch (${props.compare.mode === 'table' ? 'calibrated score table' : 'forwarded to the container'})`,
      logRetention,
      memorySize: 512,
      // Table mode may forward too (after a failed live check), so both wait for the container like the proxy.
      // A forwarded batch draws from the same request deadline (28 s, lambda/shared/deadline.ts) and answers
      // its own 504 when it runs out, so the batch route needs no longer timeout; 512 MB holds a 6 MB body's
      // parsed numbers (about 750,000 doubles).
      timeout: Duration.seconds(30),
      // In the VPC either way: forwarding reaches the ALB, the switch comes through the Secrets Manager endpoint.
      ...inVpc,
      environment: compareEnvironment,
      afterBundling: afterCompareBundling,
    });
    if (props.compare.mode === 'table') props.compareModeFlag?.grantRead(compare.role);

    // verify-faces (extension): the proxy's path to the images (backend, fetch-image) and compare's scoring
    // (the same COMPARE_MODE, score table and switch), so it answers the score compare-face-embeddings would.
    const verifyFaces = new HandlerFunction(this, 'VerifyFaces', {
      handler: 'verify-faces',
      description: `POST verify-faces (extension): two images -> get-face-embeddings x2 -> ${props.compare.mode === 'table' ? 'calibrated score table' : 'compare forwarded to the container'}`,
      logRetention,
      // Two images of up to ~4.5 MB each are decoded in memory at once: the proxy's size.
      memorySize: 1024,
      // As the proxy: API Gateway gives up at 29 s, the request deadline (lambda/shared/deadline.ts) answers 504 at 28 s.
      timeout: Duration.seconds(30),
      ...inVpc,
      environment: { ...compareEnvironment, FETCH_IMAGE_FUNCTION_NAME: fetchImage.fn.functionName },
      afterBundling: afterCompareBundling,
    });
    verifyFaces.role.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fetchImage.fn.functionArn] }));
    if (props.compare.mode === 'table') props.compareModeFlag?.grantRead(verifyFaces.role);

    let docs: HandlerFunction | undefined;
    if (config.docs !== 'off') {
      docs = new HandlerFunction(this, 'Docs', {
        handler: 'docs',
        description: 'GET /swagger/index.html, Swagger UI assets and /swagger/v1/swagger.json',
        logRetention,
        memorySize: 256,
        // Swagger UI offers only the schemes this deployment accepts (Bearer only with a JWT issuer).
        environment: { SWAGGER_UI_DIR: `/var/task/${SWAGGER_UI_BUNDLE_DIR}`, [AUTH_SCHEMES_ENV]: props.jwt ? 'ApiKey,Bearer' : 'ApiKey', ...corsEnvironment },
        outsideVpcReason: 'it serves static Swagger UI files from its bundle and calls nothing.',
        afterBundling: (inputDir, outputDir) => [
          `mkdir -p "${outputDir}/${SWAGGER_UI_BUNDLE_DIR}"`,
          ...SWAGGER_UI_ASSETS.map((file) => `cp "${inputDir}/node_modules/swagger-ui-dist/${file}" "${outputDir}/${SWAGGER_UI_BUNDLE_DIR}/${file}"`),
        ],
      });
    }

    const authorizerEnvironment: Record<string, string> = {};
    let bearerSecret: secretsmanager.Secret | undefined;
    if (props.jwt) {
      authorizerEnvironment.JWT_ISSUER = props.jwt.issuer;
      authorizerEnvironment.JWT_AUDIENCE = props.jwt.audience.join(',');
      if (props.jwt.jwksUri) authorizerEnvironment.JWT_JWKS_URI = props.jwt.jwksUri;
      authorizerEnvironment.JWT_CLIENT_CLAIM = props.jwt.clientClaim;
      authorizerEnvironment.JWT_MAX_TOKEN_LIFETIME_SECONDS = String(props.jwt.maxTokenLifetimeSeconds);
      // Claim value -> client name (identifiers, not secrets); the keys are derived from the secret.
      if (props.jwt.clients.length > 0) {
        authorizerEnvironment.JWT_CLIENTS = JSON.stringify(Object.fromEntries(props.jwt.clients.map((client) => [client.claimValue, client.name])));
      }
      // The default plan's API key value: generated, never in the template. Configured clients'
      // keys are this value plus a fixed suffix (bearerClientUsageKey), built by CloudFormation.
      bearerSecret = new secretsmanager.Secret(this, 'BearerUsageKey', {
        description: 'API key value that Bearer-token callers are metered under (usage plan "bearer")',
        generateSecretString: { excludePunctuation: true, passwordLength: 40 },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(bearerSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'The value is an API Gateway key id-bound usage key that never leaves AWS (authorizer -> API Gateway); rotating it needs the API key replaced in the same step, done by redeploying.',
      });
      authorizerEnvironment.JWT_USAGE_KEY_SECRET_ID = bearerSecret.secretArn;
    }
    const authorizerFn = new HandlerFunction(this, 'AuthorizerFunction', {
      handler: 'authorizer',
      description: 'REQUEST authorizer: Authorization: ApiKey <key> | Bearer <jwt> (outside the VPC: fetches the JWKS)',
      logRetention,
      memorySize: 256,
      environment: authorizerEnvironment,
      outsideVpcReason: 'with jwt configured it fetches the issuer\'s JWKS from the internet, which the VPC (no NAT) cannot reach; it needs nothing inside the VPC.',
    });
    bearerSecret?.grantRead(authorizerFn.role);

    this.functions = { authorizer: authorizerFn, proxy, fetchImage, compare, verifyFaces, docs };

    // --- REST API ---
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.api = new apigw.RestApi(this, 'Api', {
      // The name is the CloudWatch metrics dimension (ApiName): unique per stack, not the construct id.
      restApiName: Stack.of(this).stackName,
      description: 'Face Verification API (vendor container hosted in this account)',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // The key arrives as "Authorization: ApiKey <key>"; the authorizer hands it over as usageIdentifierKey.
      apiKeySourceType: apigw.ApiKeySourceType.AUTHORIZER,
      // Access and execution logging need the account's API Gateway CloudWatch role (one per account and region).
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: config.stageName,
        tracingEnabled: true,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Full request/response logging would write images and embeddings to CloudWatch.
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: config.throttle.rateLimit,
        throttlingBurstLimit: config.throttle.burstLimit,
      },
      // Preflight: an OPTIONS mock integration on every resource, without authorizer or key (browsers send
      // no Authorization header on a preflight). With several origins CDK's mapping template echoes an
      // allowed Origin (API Gateway developer guide, "Enabling CORS for a REST API resource").
      ...(allowOrigins.length > 0
        ? {
            defaultCorsPreflightOptions: {
              allowOrigins,
              allowMethods: [...CORS_ALLOW_METHODS],
              allowHeaders: [...CORS_ALLOW_HEADERS],
              maxAge: Duration.seconds(CORS_MAX_AGE_SECONDS),
            },
          }
        : {}),
    });
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'The account-level role API Gateway uses to write logs; AWS documents this managed policy for it.',
      });
    }
    // aws-cdk-lib scopes each API Gateway invoke permission with SourceArn = this API's execute-api ARN, built with
    // Fn::Join; the Guard rule accepts only a literal or a Ref/GetAtt. A deploy-time hook sees the resolved ARN.
    const scopedPermission = 'Principal apigateway.amazonaws.com with SourceArn = the execute-api ARN of this API (Fn::Join of partition, region, account and API id), which the static rule cannot read; it is not public.';
    acknowledgeControlTower(this.api, 'CT.LAMBDA.PR.2', scopedPermission);
    acknowledgeControlTower(authorizerFn.fn, 'CT.LAMBDA.PR.2', scopedPermission);
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason: 'Requests are validated in the handlers by the shared zod schema, so AWS and the laptop gateway answer the same problem JSON naming the field.',
    });

    this.authorizer = new apigw.RequestAuthorizer(this, 'Authorizer', {
      handler: authorizerFn.fn,
      identitySources: [apigw.IdentitySource.header('Authorization')],
      // With Bearer tokens at most 60 s: a cached Allow outlives the token's exp by up to the TTL
      // (API Gateway caches per identity source and a REQUEST authorizer cannot set a per-answer TTL;
      // "Configure a Lambda authorizer", API Gateway developer guide).
      resultsCacheTtl: Duration.seconds(authorizerCacheTtlSeconds({ api: config, jwt: props.jwt })),
    });

    const secured: apigw.MethodOptions = {
      authorizer: this.authorizer,
      authorizationType: apigw.AuthorizationType.CUSTOM,
      apiKeyRequired: true,
    };
    const integration = (fn: HandlerFunction) =>
      new apigw.LambdaIntegration(fn.fn, { proxy: true, allowTestInvoke: false, timeout: Duration.millis(LIMITS.apiGatewayIntegrationTimeoutMs) });
    const resourceAt = (parts: readonly string[]) => parts.reduce<apigw.IResource>((parent, part) => parent.getResource(part) ?? parent.addResource(part), this.api.root);

    resourceAt(ROUTES.detectFaces).addMethod('POST', integration(proxy), secured);
    resourceAt(ROUTES.getFaceEmbeddings).addMethod('POST', integration(proxy), secured);
    resourceAt(ROUTES.compareFaceEmbeddings).addMethod('POST', integration(compare), secured);
    // A second route on the compare function: same mode, table, switch and backend, and its alarms cover both.
    resourceAt(ROUTES.compareFaceEmbeddingsBatch).addMethod('POST', integration(compare), secured);
    // The extension is metered like the vendor operations: a usage plan's throttle and quota apply to every method
    // of the API stages it lists, unless a method throttle is set (API Gateway developer guide, "Usage plans and
    // API keys for REST APIs"; CfnUsagePlan ApiStageProperty.throttle). None is set for any route here.
    resourceAt(ROUTES.verifyFaces).addMethod('POST', integration(verifyFaces), secured);

    if (docs) {
      const swagger = this.api.root.addResource('swagger');
      const docsOptions: apigw.MethodOptions = config.docs === 'public' ? { authorizationType: apigw.AuthorizationType.NONE } : secured;
      const docsIntegration = integration(docs);
      const root = swagger.addMethod('GET', docsIntegration, docsOptions);
      const assets = swagger.addResource('{proxy+}').addMethod('GET', docsIntegration, docsOptions);
      if (config.docs === 'public') {
        for (const method of [root, assets]) {
          Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason: 'Swagger UI and the OpenAPI document are public by configuration (api.docs = "public"), as the vendor container serves them.' });
          Validations.of(method).acknowledge({ id: 'AwsSolutions-COG4', reason: 'Swagger UI and the OpenAPI document are public by configuration (api.docs = "public").' });
        }
      }
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Clients authenticate as with the vendor: "Authorization: ApiKey <key>" or a Bearer JWT from the customer\'s own issuer, checked by the Lambda REQUEST authorizer; Cognito is not part of that contract.',
    });

    // A gateway response header is a static value or a request-parameter mapping, with no condition on the
    // Origin (API Gateway developer guide, "Gateway responses for REST APIs"): one allowed origin is named;
    // with several, "*" keeps a 401/429 body readable by each of them (see staticAllowOrigin).
    const errorAllowOrigin = staticAllowOrigin(allowOrigins);
    for (const response of GATEWAY_RESPONSES) {
      this.api.addGatewayResponse(response.id, {
        type: response.type,
        ...(response.status ? { statusCode: String(response.status) } : {}),
        responseHeaders: {
          'Content-Type': `'${PROBLEM_CONTENT_TYPE}'`,
          ...(response.status === 401 ? { 'WWW-Authenticate': "'ApiKey, Bearer'" } : {}),
          ...(errorAllowOrigin ? { 'Access-Control-Allow-Origin': `'${errorAllowOrigin}'`, 'Access-Control-Expose-Headers': `'${CORS_EXPOSE_HEADERS.join(', ')}'` } : {}),
        },
        templates: { 'application/json': gatewayResponseTemplate(response.kind, response.detail) },
      });
    }

    // --- clients: one key and one usage plan each (API Gateway generates the key values) ---
    const stage = this.api.deploymentStage;
    for (const client of config.clients) {
      const id = pascal(client.name);
      const apiKey = new apigw.ApiKey(this, `ApiKey${id}`, {
        description: `API key of client "${client.name}"`,
        enabled: true,
      });
      const throttle = client.throttle ?? config.throttle;
      const quota = client.quota ?? config.quota;
      const usagePlan = new apigw.UsagePlan(this, `UsagePlan${id}`, {
        description: `Usage plan of client "${client.name}"`,
        apiStages: [{ api: this.api, stage }],
        throttle: { rateLimit: throttle.rateLimit, burstLimit: throttle.burstLimit },
        ...(quota ? { quota: { limit: quota.limit, period: apigw.Period[quota.period] } } : {}),
      });
      usagePlan.addApiKey(apiKey);
      this.clients.push({ name: client.name, apiKey, usagePlan });
    }
    if (props.jwt && bearerSecret) {
      // CloudFormation resolves the dynamic reference at deploy time: the value is not in the template.
      const apiKey = new apigw.ApiKey(this, 'ApiKeyBearer', {
        description: 'Usage key of Bearer-token callers (value in the BearerUsageKey secret)',
        enabled: true,
        value: bearerSecret.secretValue.unsafeUnwrap(),
      });
      const throttle = props.jwt.throttle ?? config.throttle;
      const quota = props.jwt.quota ?? config.quota;
      const usagePlan = new apigw.UsagePlan(this, 'UsagePlanBearer', {
        description: 'Usage plan of Bearer-token callers',
        apiStages: [{ api: this.api, stage }],
        throttle: { rateLimit: throttle.rateLimit, burstLimit: throttle.burstLimit },
        ...(quota ? { quota: { limit: quota.limit, period: apigw.Period[quota.period] } } : {}),
      });
      usagePlan.addApiKey(apiKey);
      this.bearer = { apiKey, usagePlan, secret: bearerSecret };

      // --- configured Bearer clients: one key and one plan each, so one client (or one leaked
      // token) can use up only its own throttle and quota ---
      for (const client of props.jwt.clients) {
        const id = pascal(client.name);
        // A dynamic reference inside a longer string is resolved too (the value stays out of the
        // template); AWS-tested in localstack/localstack#5208, as used by aws/aws-cdk#36762.
        const clientKey = new apigw.ApiKey(this, `ApiKeyBearer${id}`, {
          description: `Usage key of Bearer client "${client.name}" (derived from the BearerUsageKey secret)`,
          enabled: true,
          value: bearerClientUsageKey(bearerSecret.secretValue.unsafeUnwrap(), client.name),
        });
        const clientThrottle = client.throttle ?? throttle;
        const clientQuota = client.quota ?? quota;
        const clientPlan = new apigw.UsagePlan(this, `UsagePlanBearer${id}`, {
          description: `Usage plan of Bearer client "${client.name}"`,
          apiStages: [{ api: this.api, stage }],
          throttle: { rateLimit: clientThrottle.rateLimit, burstLimit: clientThrottle.burstLimit },
          ...(clientQuota ? { quota: { limit: clientQuota.limit, period: apigw.Period[clientQuota.period] } } : {}),
        });
        clientPlan.addApiKey(clientKey);
        this.bearerClients.push({ name: client.name, apiKey: clientKey, usagePlan: clientPlan });
      }
    }

    // --- WAF ---
    if (config.waf.enabled) {
      this.webAcl = createWebAcl(this, wafRateLimitPer5Minutes({ api: config, jwt: props.jwt }));
      // stageArn refers to the Stage resource, so the association waits for the stage.
      new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
        resourceArn: stage.stageArn,
        webAclArn: this.webAcl.attrArn,
      });
    } else {
      // Without the web ACL nothing answers 413 for bodies over LIMITS.maxRequestBodyBytes and up to API
      // Gateway's 10 MB: Lambda refuses the oversized event before the handler runs (a 5xx).
      Validations.of(stage).acknowledge({ id: 'AwsSolutions-APIG3', reason: 'WAF turned off by configuration (api.waf.enabled = false).' });
    }

    // --- custom domain ---
    this.url = this.api.url;
    if (config.customDomain) {
      const domain = config.customDomain;
      this.domainName = new apigw.DomainName(this, 'DomainName', {
        domainName: domain.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', domain.certificateArn),
        endpointType: apigw.EndpointType.REGIONAL,
        securityPolicy: apigw.SecurityPolicy.TLS_1_2,
      });
      this.domainName.addBasePathMapping(this.api, { stage });
      if (domain.hostedZoneId && domain.hostedZoneName) {
        const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: domain.hostedZoneId, zoneName: domain.hostedZoneName });
        new route53.ARecord(this, 'AliasRecord', {
          zone,
          recordName: domain.domainName,
          target: route53.RecordTarget.fromAlias(new route53Targets.ApiGatewayDomain(this.domainName)),
        });
      }
      this.url = `https://${domain.domainName}/`;
    }
  }

  /** All handler functions (for monitoring). */
  allFunctions(): HandlerFunction[] {
    const { authorizer, proxy, fetchImage, compare, verifyFaces, docs } = this.functions;
    return [authorizer, proxy, fetchImage, compare, verifyFaces, ...(docs ? [docs] : [])];
  }
}

/** `my-client` -> `MyClient` (construct ids and output keys). */
export function pascal(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** The WAF rule answering 413 for a Content-Length over {@link LIMITS.maxRequestBodyBytes}. */
export const BODY_TOO_LARGE_RULE = 'BodyOverLambdaLimit';

/**
 * A regular expression matching exactly the decimal integers greater than
 * `limit` (leading zeros allowed), for an AWS WAF regex match on the
 * Content-Length header: a WAF size constraint on a header compares the
 * length of its value (7 characters for "6225921"), not its number, and a
 * body inspection sees only the first 16-64 KB (AWS WAF developer guide,
 * "Oversize web request components"). WAF regexes are at most 512 characters.
 */
export function integerGreaterThanRegex(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`integerGreaterThanRegex: ${limit} is not a non-negative integer`);
  const digits = String(limit);
  // Longer numbers are always greater; same length: equal up to position i, then a larger digit.
  const alternatives = [`[1-9][0-9]{${digits.length},}`];
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[i]);
    if (digit === 9) continue;
    const rest = digits.length - i - 1;
    alternatives.push(`${digits.slice(0, i)}[${digit + 1}-9]${rest > 0 ? `[0-9]{${rest}}` : ''}`);
  }
  return `^0*(?:${alternatives.join('|')})$`;
}

/**
 * The web ACL: a Content-Length rule answering 413 with our problem body for
 * bodies over the Lambda invoke limit (API Gateway accepts up to 10 MB, the
 * function's event only about 6 MB, so without it such bodies fail before the
 * handler and come back as a 5xx), AWS managed common rules (with the 8 KB
 * body-size rule counted, not blocking: base64 images are far larger) and a
 * per-IP rate-based rule answering 429 with a problem body. Requests the web
 * ACL blocks never reach API Gateway's metrics, so they feed neither the 4XX
 * nor the 5XX alarm. Sampled requests stay off: they would keep request
 * headers (the Authorization key) for the console.
 */
function createWebAcl(scope: Construct, rateLimit: number): wafv2.CfnWebACL {
  const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
    cloudWatchMetricsEnabled: true,
    metricName,
    sampledRequestsEnabled: false,
  });
  const name = Stack.of(scope).stackName;
  return new wafv2.CfnWebACL(scope, 'WebAcl', {
    scope: 'REGIONAL',
    defaultAction: { allow: {} },
    visibilityConfig: visibility(`${name}-web-acl`),
    // WAF custom response bodies: APPLICATION_JSON content type, codes 200-599 incl. 413 and 429
    // (AWS WAF developer guide, "Supported status codes for custom responses").
    customResponseBodies: {
      'payload-too-large': {
        contentType: 'APPLICATION_JSON',
        content: JSON.stringify(problem('payload-too-large', `The request body must be at most ${LIMITS.maxRequestBodyBytes} bytes.`)),
      },
      'too-many-requests': {
        contentType: 'APPLICATION_JSON',
        content: JSON.stringify(problem('too-many-requests', 'Too many requests from this address; retry later.')),
      },
    },
    rules: [
      {
        name: BODY_TOO_LARGE_RULE,
        priority: 0,
        action: { block: { customResponse: { responseCode: 413, customResponseBodyKey: 'payload-too-large' } } },
        statement: {
          regexMatchStatement: {
            fieldToMatch: { singleHeader: { Name: 'content-length' } },
            regexString: integerGreaterThanRegex(LIMITS.maxRequestBodyBytes),
            textTransformations: [{ priority: 0, type: 'NONE' }],
          },
        },
        visibilityConfig: visibility('body-too-large'),
      },
      {
        name: 'AWSManagedRulesCommonRuleSet',
        priority: 1,
        overrideAction: { none: {} },
        statement: {
          managedRuleGroupStatement: {
            vendorName: 'AWS',
            name: 'AWSManagedRulesCommonRuleSet',
            // SizeRestrictions_BODY blocks bodies over 8 KB; an image is up to 6 MB of base64.
            ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
          },
        },
        visibilityConfig: visibility('common-rules'),
      },
      {
        name: 'RateLimitPerIp',
        priority: 2,
        action: { block: { customResponse: { responseCode: 429, customResponseBodyKey: 'too-many-requests' } } },
        statement: { rateBasedStatement: { limit: rateLimit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
        visibilityConfig: visibility('rate-limit-per-ip'),
      },
    ],
  });
}
