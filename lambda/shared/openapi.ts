/**
 * The OpenAPI 3.0 document, generated from the zod schemas in `contract.ts`.
 * It drives Swagger UI (docs handler) and is what the CDK app describes to API Gateway.
 */
import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import {
  CompareFaceEmbeddingsBatchRequestSchema,
  CompareFaceEmbeddingsBatchResponseSchema,
  CompareFaceEmbeddingsRequestSchema,
  CompareFaceEmbeddingsResponseSchema,
  DetectFacesResponseSchema,
  FaceImageRequestSchema,
  GetFaceEmbeddingsResponseSchema,
  PATHS,
  ProblemSchema,
  VerifyFacesRequestSchema,
  VerifyFacesResponseSchema,
} from './contract.js';
import { EXAMPLE_IMAGE_BASE64 } from './example-image.js';
import { LIMITS } from './limits.js';
import { PROBLEM_CONTENT_TYPE, problem, type ProblemKind } from './problem.js';

type ErrorResponse = { status: number; kind: ProblemKind; description: string; detail: string };

/** The 400 of the two image operations. */
const IMAGE_BAD_REQUEST: ErrorResponse = { status: 400, kind: 'validation-error', description: 'Invalid request (not JSON, no image, invalid base64, not JPEG/PNG, an image that cannot be decoded, bad maxFaceCount, image too large in pixels, refused or failed image URL, ...); `errors` names the field', detail: 'image.bytes: must be a JPEG or PNG image' };
/** The 400 of compare-face-embeddings: only embeddings are involved. */
const COMPARE_BAD_REQUEST: ErrorResponse = { status: 400, kind: 'validation-error', description: 'Invalid request (not JSON, embedding1 or embedding2 missing, not an array of finite numbers, empty, longer than 4,096, or of different lengths); `errors` names the field', detail: 'embedding2: must have the same length as embedding1' };

/** The 400 of verify-faces: as the image operations, per image, plus "no face" on either. */
const VERIFY_BAD_REQUEST: ErrorResponse = { status: 400, kind: 'validation-error', description: 'Invalid request: anything the image operations refuse, for image1 or image2, or no face found on one of them; `errors` names image1 or image2', detail: 'image2: no face found' };
/** The 400 of compare-face-embeddings-batch. */
const BATCH_BAD_REQUEST: ErrorResponse = { status: 400, kind: 'validation-error', description: 'Invalid request: embedding or embeddings missing, not arrays of finite numbers, 0 or more than 1,000 candidates, or a candidate of another length than embedding; `errors` names the field (e.g. `embeddings[3]`)', detail: 'embeddings[1]: must have the same length as embedding (3), got 2' };

const ERROR_RESPONSES: ReadonlyArray<ErrorResponse> = [
  { status: 401, kind: 'unauthorized', description: 'Missing or invalid authentication (ApiKey or Bearer token)', detail: 'Send "Authorization: ApiKey <key>" or "Authorization: Bearer <jwt>".' },
  { status: 404, kind: 'not-found', description: 'No such path (in AWS also a known path with another method)', detail: 'No route for POST /v1/face-verification/detect-face.' },
  { status: 405, kind: 'method-not-allowed', description: 'A known path with another method (local gateway; `Allow` names the method)', detail: 'Use POST /v1/face-verification/detect-faces.' },
  { status: 413, kind: 'payload-too-large', description: `Request body over ${LIMITS.maxRequestBodyBytes} bytes (Lambda's 6 MB synchronous payload limit)`, detail: `The request body must be at most ${LIMITS.maxRequestBodyBytes} bytes.` },
  { status: 415, kind: 'unsupported-media-type', description: 'The body is not sent as JSON (`Content-Type` other than application/json)', detail: 'Send the request body as JSON with "Content-Type: application/json".' },
  { status: 429, kind: 'too-many-requests', description: 'Rate limit or quota of the API key exceeded; retry after the Retry-After header', detail: 'Rate limit exceeded; retry later.' },
  { status: 502, kind: 'bad-gateway', description: 'The face verification backend answered with an error or garbage', detail: 'The backend answered with an unusable response.' },
  { status: 503, kind: 'service-unavailable', description: 'The face verification backend is unavailable or overloaded', detail: 'The backend refused the connection.' },
  { status: 504, kind: 'gateway-timeout', description: 'The face verification backend did not answer in time', detail: `The backend did not answer within ${LIMITS.defaultBackendTimeoutMs} ms.` },
];

function errorResponses(badRequest: ErrorResponse) {
  return Object.fromEntries(
    [badRequest, ...ERROR_RESPONSES].map(({ status, kind, description, detail }) => [
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

/**
 * The request examples Swagger UI's "Try it out" sends: each one succeeds (200) against `npm start`
 * (test/local/openapi-examples.test.ts posts them). The image is a real face photo under 20 KB.
 */
export const REQUEST_EXAMPLES = {
  image: { image: { bytes: EXAMPLE_IMAGE_BASE64, url: null }, maxFaceCount: 1 },
  compare: { embedding1: [0.123, -0.456, 0.789], embedding2: [0.125, -0.45, 0.792] },
  /** The same photo twice: a working call that answers a high similarity. */
  verify: { image1: { bytes: EXAMPLE_IMAGE_BASE64, url: null }, image2: { bytes: EXAMPLE_IMAGE_BASE64, url: null } },
  compareBatch: { embedding: [0.123, -0.456, 0.789], embeddings: [[0.125, -0.45, 0.792], [-0.5, 0.2, 0.1]] },
} as const;

/** Marks an operation that the vendor's API does not have (tag, `x-extension`, summary and description). */
const EXTENSION_NOTE = 'Extension: not part of the vendor\'s API (the vendor\'s three operations are unchanged).';

const operations: ReadonlyArray<{ path: string; operationId: string; summary: string; description: string; request: z.ZodType; example: unknown; badRequest: ErrorResponse; response: z.ZodType; ok: string; extension?: true }> = [
  {
    path: PATHS.detectFaces,
    operationId: 'detectFaces',
    summary: 'Detect Faces',
    description: 'Returns a list of detected faces on the provided image with their respective bounding boxes.',
    request: FaceImageRequestSchema,
    example: REQUEST_EXAMPLES.image,
    badRequest: IMAGE_BAD_REQUEST,
    response: DetectFacesResponseSchema,
    ok: 'Returns the detected faces results',
  },
  {
    path: PATHS.getFaceEmbeddings,
    operationId: 'getFaceEmbeddings',
    summary: 'Get Face Embeddings',
    description: 'Returns a list of face embeddings for all the detected faces in the provided image.',
    request: FaceImageRequestSchema,
    example: REQUEST_EXAMPLES.image,
    badRequest: IMAGE_BAD_REQUEST,
    response: GetFaceEmbeddingsResponseSchema,
    ok: 'Returns the face embeddings results',
  },
  {
    path: PATHS.compareFaceEmbeddings,
    operationId: 'compareFaceEmbeddings',
    summary: 'Compare Face Embeddings',
    description: 'Returns the similarity between two face embeddings as an integer in [-1, 100].',
    request: CompareFaceEmbeddingsRequestSchema,
    example: REQUEST_EXAMPLES.compare,
    badRequest: COMPARE_BAD_REQUEST,
    response: CompareFaceEmbeddingsResponseSchema,
    ok: 'Returns the similarity result',
  },
  {
    path: PATHS.verifyFaces,
    operationId: 'verifyFaces',
    summary: 'Verify Faces (extension)',
    description:
      `${EXTENSION_NOTE} Compares the largest face of image1 with the largest face of image2 in one call and returns ` +
      'their similarity, exactly as compare-face-embeddings would score their embeddings. Both images are processed ' +
      'concurrently; embeddings never leave the server. An image without a face is a 400 naming image1 or image2.',
    request: VerifyFacesRequestSchema,
    example: REQUEST_EXAMPLES.verify,
    badRequest: VERIFY_BAD_REQUEST,
    response: VerifyFacesResponseSchema,
    ok: 'Returns the similarity of the two largest faces',
    extension: true,
  },
  {
    path: PATHS.compareFaceEmbeddingsBatch,
    operationId: 'compareFaceEmbeddingsBatch',
    summary: 'Compare Face Embeddings, one against many (extension)',
    description:
      `${EXTENSION_NOTE} Compares one embedding with 1 to 1,000 candidates; each similarity equals what ` +
      'compare-face-embeddings answers for that pair, in the order of the candidates. The body limit is the same as for ' +
      `every operation (${LIMITS.maxRequestBodyBytes} bytes): about 579 candidates of 512 full-precision numbers fit, all 1,000 ` +
      'when the numbers are rounded to 6 decimals. In forward mode the backend is asked once per candidate, 8 at a time, ' +
      'within one request deadline: a batch is answered in full or with a problem, never in part.',
    request: CompareFaceEmbeddingsBatchRequestSchema,
    example: REQUEST_EXAMPLES.compareBatch,
    badRequest: BATCH_BAD_REQUEST,
    response: CompareFaceEmbeddingsBatchResponseSchema,
    ok: 'Returns one similarity per candidate',
    extension: true,
  },
];

/** The credential schemes a deployment accepts in the Authorization header. */
export type AuthScheme = 'ApiKey' | 'Bearer';

/**
 * Builds the OpenAPI 3.0.3 document.
 * @param options.serverUrl the API's base path as the client sees it (`/prod` behind an execute-api stage, `/` locally
 *   or behind a custom domain); the docs handler derives it from the request. @default '/'
 * @param options.authSchemes the schemes the deployment accepts (Bearer only with a JWT issuer). @default both
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
      tags: [op.extension ? 'Extensions' : 'Face Verification'],
      ...(op.extension ? { 'x-extension': true } : {}),
      security,
      // The media-type example wins over the schema's in Swagger UI: the full photo lives here only
      // (the docs bundle), not in contract.ts, which every handler bundles.
      request: { body: { required: true, content: { 'application/json': { schema: op.request, example: op.example } } } },
      responses: {
        200: { description: op.ok, content: { 'application/json': { schema: op.response } } },
        ...errorResponses(op.badRequest),
      },
    });
  }
  const document = new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Face Verification API',
      version: options.version ?? 'v1',
      description:
        'Self-hosted Face Verification API: same paths, fields and status codes as the vendor\'s hosted API. ' +
        'Errors are RFC 9457 problem details.',
    },
    servers: [{ url: options.serverUrl ?? '/', description: 'This API' }],
  });
  // The request schema's own example (contract.ts, shared with every handler bundle) carries a short
  // placeholder; in the document it is the full request, so no example in it is one that fails.
  const requestSchema = document.components?.schemas?.FaceImageRequest as { example?: unknown } | undefined;
  if (requestSchema) requestSchema.example = REQUEST_EXAMPLES.image;
  const verifySchema = document.components?.schemas?.VerifyFacesRequest as { example?: unknown } | undefined;
  if (verifySchema) verifySchema.example = REQUEST_EXAMPLES.verify;
  return document;
}
