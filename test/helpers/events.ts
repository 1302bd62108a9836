import type { APIGatewayProxyEvent } from 'aws-lambda';

/** A minimal API Gateway REST proxy event for a POST with a JSON body. */
export function postEvent(path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path,
    resource: path,
    headers,
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { requestId: 'req-test-1' } as APIGatewayProxyEvent['requestContext'],
  };
}

export function getEvent(path: string): APIGatewayProxyEvent {
  return { ...postEvent(path, ''), httpMethod: 'GET', body: null };
}
