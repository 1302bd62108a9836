/**
 * detect-faces and get-face-embeddings: validate, resolve `image.url` to bytes,
 * refuse decompression bombs, forward `{image:{bytes}, maxFaceCount}` to the
 * backend and relay its (validated) answer. The download and the backend call
 * share one request deadline (deadline.ts): the backend gets what the download
 * left, and a request that runs out answers our 504 problem before API Gateway
 * gives up.
 */
import type { z } from 'zod';
import type { BackendClient } from './backend-client.js';
import {
  DetectFacesResponseSchema,
  FaceImageRequestSchema,
  GetFaceEmbeddingsResponseSchema,
  PATHS,
  parseRequest,
} from './contract.js';
import { answer, jsonResult, readJsonBody, type ApiEvent, type ApiResult, type HandlerLogger } from './http.js';
import { budgetExhausted, startRequestDeadline, type RemainingTime, type RequestDeadline } from './deadline.js';
import { checkImageDimensions } from './image-bytes.js';
import type { ImageUrlFetcher } from './image-source.js';
import { ApiError } from './problem.js';

/** The `errors[].reason` of an image the backend refused (its own detail stays in `detail`). */
export const IMAGE_NOT_PROCESSED = 'could not be decoded or processed by the face engine';

const OPERATIONS: Record<string, { path: string; schema: z.ZodType }> = {
  [PATHS.detectFaces]: { path: PATHS.detectFaces, schema: DetectFacesResponseSchema },
  [PATHS.getFaceEmbeddings]: { path: PATHS.getFaceEmbeddings, schema: GetFaceEmbeddingsResponseSchema },
};

export interface FaceProxyDeps {
  readonly backend: BackendClient;
  readonly imageFetcher: ImageUrlFetcher;
  readonly logger: HandlerLogger;
  /**
   * API Gateway's integration timeout for these routes (the request deadline is derived from it).
   * @default LIMITS.apiGatewayIntegrationTimeoutMs (29 000)
   */
  readonly integrationTimeoutMs?: number;
}

/** The proxy handler; the operation is chosen by the event's path (REST resource). */
export function createFaceProxyHandler(deps: FaceProxyDeps): (event: ApiEvent, context?: RemainingTime) => Promise<ApiResult> {
  return async (event, context) => {
    const deadline = startRequestDeadline({ integrationTimeoutMs: deps.integrationTimeoutMs, context });
    try {
      return await answer(event, deps.logger, (requestId) => proxyRequest(deps, event, requestId, deadline));
    } finally {
      deadline.dispose();
    }
  };
}

async function proxyRequest(deps: FaceProxyDeps, event: ApiEvent, requestId: string, deadline: RequestDeadline): Promise<ApiResult> {
  const operation = OPERATIONS[event.resource] ?? OPERATIONS[stripStage(event.path)];
  if (!operation) throw new ApiError('not-found', 'No such operation.');
  const request = parseRequest(FaceImageRequestSchema, readJsonBody(event));

  let bytes: Buffer;
  let base64: string;
  let field: 'image.bytes' | 'image.url';
  if (request.image.url) {
    field = 'image.url';
    bytes = await deadline.race(deps.imageFetcher.fetch(request.image.url, { signal: deadline.signal }), 'downloading image.url');
    base64 = bytes.toString('base64');
  } else {
    field = 'image.bytes';
    base64 = request.image.bytes!;
    bytes = Buffer.from(base64, 'base64');
  }
  const check = checkImageDimensions(bytes);
  if (!check.ok) {
    const reason = field === 'image.url' ? `the downloaded image ${check.reason}` : check.reason;
    throw new ApiError('image-rejected', `${field}: ${reason}`, { errors: [{ field, reason }] });
  }

  const started = Date.now();
  // The backend gets what is left of the request's budget (and never more than its own timeout).
  const leftMs = deadline.remainingMs();
  if (leftMs <= 0) throw budgetExhausted('before the backend was called', deadline.budgetMs);
  const result = await deadline.race(
    deps.backend
      .postJson(
        operation.path,
        // Strict base64 needs no JSON escaping; concatenation spares re-serialising a multi-megabyte string.
        `{"image":{"bytes":"${base64}"},"maxFaceCount":${request.maxFaceCount}}`,
        operation.schema,
        requestId,
        { timeoutMs: leftMs },
      )
      .catch((error: unknown) => {
        // The backend refused the image itself (e.g. it does not decode): name the field the client sent it in.
        if (error instanceof ApiError && error.kind === 'image-rejected' && !error.errors) {
          throw new ApiError('image-rejected', error.message, { errors: [{ field, reason: IMAGE_NOT_PROCESSED }], cause: error });
        }
        throw error;
      }),
    'waiting for the backend',
  );
  deps.logger.info('backend answered', {
    requestId,
    operation: operation.path,
    backendMs: Date.now() - started,
    imageSource: field === 'image.url' ? 'url' : 'bytes',
    imageBytes: bytes.length,
  });
  return jsonResult(200, result, requestId);
}

/** `/prod/v1/...` -> `/v1/...` when a stage prefix is present in `path`. */
function stripStage(path: string): string {
  const index = path.indexOf('/v1/');
  return index >= 0 ? path.slice(index) : path;
}
