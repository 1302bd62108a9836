/** Node HTTP request -> API Gateway REST proxy (v1) event, and the authorizer's REQUEST event. */
import type { IncomingHttpHeaders } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';

export const LOCAL_API_ID = 'local';
export const LOCAL_STAGE = 'local';

function singleHeaders(headers: IncomingHttpHeaders): { single: Record<string, string>; multi: Record<string, string[]> } {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    multi[name] = values;
    single[name] = values[values.length - 1]!;
  }
  return { single, multi };
}

export function methodArn(method: string, path: string): string {
  return `arn:aws:execute-api:local:000000000000:${LOCAL_API_ID}/${LOCAL_STAGE}/${method}${path}`;
}

export function authorizerEvent(method: string, path: string, headers: IncomingHttpHeaders, requestId: string): APIGatewayRequestAuthorizerEvent {
  const { single, multi } = singleHeaders(headers);
  return {
    type: 'REQUEST',
    methodArn: methodArn(method, path),
    resource: path,
    path,
    httpMethod: method,
    headers: single,
    multiValueHeaders: multi,
    pathParameters: {},
    queryStringParameters: {},
    multiValueQueryStringParameters: {},
    stageVariables: {},
    requestContext: { requestId, stage: LOCAL_STAGE, apiId: LOCAL_API_ID, httpMethod: method, path, resourcePath: path } as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}

export function proxyEvent(options: {
  method: string;
  path: string;
  resource: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
  sourceIp: string;
  authorizer?: Record<string, unknown>;
  apiKey?: string;
}): APIGatewayProxyEvent {
  const { single, multi } = singleHeaders(options.headers);
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of options.query) {
    query[key] = value;
    (multiQuery[key] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  return {
    httpMethod: options.method,
    path: options.path,
    resource: options.resource,
    headers: single,
    multiValueHeaders: multi,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: options.body.length > 0 ? options.body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: LOCAL_API_ID,
      stage: LOCAL_STAGE,
      requestId: options.requestId,
      httpMethod: options.method,
      // The laptop URL has no stage segment, like a custom domain mapped at the root.
      path: options.path,
      resourcePath: options.resource,
      resourceId: 'local',
      protocol: 'HTTP/1.1',
      requestTimeEpoch: Date.now(),
      authorizer: options.authorizer ?? null,
      identity: { sourceIp: options.sourceIp, apiKey: options.apiKey ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
    } as APIGatewayProxyEvent['requestContext'],
  };
}
