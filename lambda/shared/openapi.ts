/**
 * The OpenAPI 3.0 document, generated from the zod schemas in `contract.ts`.
 * It drives Swagger UI (docs handler) and is what the CDK app describes to API Gateway.
 */
import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import {
  CompareFaceEmbeddingsRequestSchema,
  CompareFaceEmbeddingsResponseSchema,
  DetectFacesResponseSchema,
  FaceImageRequestSchema,
  GetFaceEmbeddingsResponseSchema,
  PATHS,
  ProblemSchema,
} from './contract.js';
import { LIMITS } from './limits.js';
import { PROBLEM_CONTENT_TYPE, problem, type ProblemKind } from './problem.js';

const ERROR_RESPONSES: ReadonlyArray<{ status: number; kind: ProblemKind; description: string; detail: string }> = [
  { status: 400, kind: 'validation-error', description: 'Invalid request (no image, invalid base64, not JPEG/PNG, bad maxFaceCount, image too large in pixels, refused image URL, ...)', detail: 'image.bytes: must be a JPEG or PNG image' },
  { status: 401, kind: 'unauthorized', description: 'Missing or invalid authentication (ApiKey or Bearer token)', detail: 'Send "Authorization: ApiKey <key>" or "Authorization: Bearer <jwt>".' },
  { status: 413, kind: 'payload-too-large', description: `Request body over ${LIMITS.maxRequestBodyBytes} bytes (Lambda's 6 MB synchronous payload limit)`, detail: `The request body must be at most ${LIMITS.maxRequestBodyBytes} bytes.` },
  { status: 429, kind: 'too-many-requests', description: 'Rate limit or quota of the API key exceeded; retry after the Retry-After header', detail: 'Rate limit exceeded; retry later.' },
  { status: 502, kind: 'bad-gateway', description: 'The face verification backend answered with an error or garbage', detail: 'The backend answered with an unusable response.' },
  { status: 503, kind: 'service-unavailable', description: 'The face verification backend is unavailable or overloaded', detail: 'The backend refused the connection.' },
  { status: 504, kind: 'gateway-timeout', description: 'The face verification backend did not answer in time', detail: `The backend did not answer within ${LIMITS.defaultBackendTimeoutMs} ms.` },
];

function errorResponses() {
  return Object.fromEntries(
    ERROR_RESPONSES.map(({ status, kind, description, detail }) => [
      String(status),
      {
        description,
        content: {
          [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema, example: problem(kind, detail, 'c0ffee00-0000-4000-8000-000000000000') },
        },
      },
    ]),
  );
}

const operations: ReadonlyArray<{ path: string; operationId: string; summary: string; description: string; request: z.ZodType; response: z.ZodType; ok: string }> = [
  {
    path: PATHS.detectFaces,
    operationId: 'detectFaces',
    summary: 'Detect Faces',
    description: 'Returns a list of detected faces on the provided image with their respective bounding boxes.',
    request: FaceImageRequestSchema,
    response: DetectFacesResponseSchema,
    ok: 'Returns the detected faces results',
  },
  {
    path: PATHS.getFaceEmbeddings,
    operationId: 'getFaceEmbeddings',
    summary: 'Get Face Embeddings',
    description: 'Returns a list of face embeddings for all the detected faces in the provided image.',
    request: FaceImageRequestSchema,
    response: GetFaceEmbeddingsResponseSchema,
    ok: 'Returns the face embeddings results',
  },
  {
    path: PATHS.compareFaceEmbeddings,
    operationId: 'compareFaceEmbeddings',
    summary: 'Compare Face Embeddings',
    description: 'Returns the similarity between two face embeddings as an integer in [-1, 100].',
    request: CompareFaceEmbeddingsRequestSchema,
    response: CompareFaceEmbeddingsResponseSchema,
    ok: 'Returns the similarity result',
  },
];

/** The credential schemes a deployment accepts in the Authorization header. */
export type AuthScheme = 'ApiKey' | 'Bearer';

/**
 * Builds the OpenAPI 3.0.3 document. `serverUrl` defaults to `../..`, relative to the document's own URL;
 * `authSchemes` lists the schemes the deployment accepts (Bearer only with a JWT issuer). @default both
 */
export function buildOpenApiDocument(options: { serverUrl?: string; version?: string; authSchemes?: readonly AuthScheme[] } = {}) {
  const schemes = options.authSchemes ?? ['ApiKey', 'Bearer'];
  const registry = new OpenAPIRegistry();
  if (schemes.includes('ApiKey')) {
    registry.registerComponent('securitySchemes', 'ApiKeyAuth', {
      type: 'apiKey',
      in: 'header',
      name: 'Authorization',
      description: 'Type the whole header value: `ApiKey <your key>`.',
    });
  }
  if (schemes.includes('Bearer')) {
    registry.registerComponent('securitySchemes', 'BearerAuth', {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'A JWT from the configured issuer: `Authorization: Bearer <jwt>`.',
    });
  }
  const security = schemes.map((scheme) => ({ [`${scheme}Auth`]: [] }));
  for (const op of operations) {
    registry.registerPath({
      method: 'post',
      path: op.path,
      operationId: op.operationId,
      summary: op.summary,
      description: op.description,
      tags: ['Face Verification'],
      security,
      request: { body: { required: true, content: { 'application/json': { schema: op.request } } } },
      responses: {
        200: { description: op.ok, content: { 'application/json': { schema: op.response } } },
        ...errorResponses(),
      },
    });
  }
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Face Verification API',
      version: options.version ?? 'v1',
      description:
        'Self-hosted Face Verification API: same paths, fields and status codes as the vendor\'s hosted API. ' +
        'Errors are RFC 9457 problem details.',
    },
    // Relative to /swagger/v1/swagger.json, `../..` is the API root, locally and behind an API Gateway stage path.
    servers: [{ url: options.serverUrl ?? '../..' }],
  });
}
