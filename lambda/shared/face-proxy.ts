/**
 * detect-faces and get-face-embeddings: validate, resolve `image.url` to bytes,
 * refuse decompression bombs, forward `{image:{bytes}, maxFaceCount}` to the
 * backend and relay its (validated) answer.
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
}

/** The proxy handler; the operation is chosen by the event's path (REST resource). */
export function createFaceProxyHandler(deps: FaceProxyDeps): (event: ApiEvent) => Promise<ApiResult> {
  return (event) =>
    answer(event, deps.logger, async (requestId) => {
      const operation = OPERATIONS[event.resource] ?? OPERATIONS[stripStage(event.path)];
      if (!operation) throw new ApiError('not-found', 'No such operation.');
      const request = parseRequest(FaceImageRequestSchema, readJsonBody(event));

      let bytes: Buffer;
      let base64: string;
      let field: 'image.bytes' | 'image.url';
      if (request.image.url) {
        field = 'image.url';
        bytes = await deps.imageFetcher.fetch(request.image.url);
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
      const result = await deps.backend
        .postJson(
          operation.path,
          // Strict base64 needs no JSON escaping; concatenation spares re-serialising a multi-megabyte string.
          `{"image":{"bytes":"${base64}"},"maxFaceCount":${request.maxFaceCount}}`,
          operation.schema,
          requestId,
        )
        .catch((error: unknown) => {
          // The backend refused the image itself (e.g. it does not decode): name the field the client sent it in.
          if (error instanceof ApiError && error.kind === 'image-rejected' && !error.errors) {
            throw new ApiError('image-rejected', error.message, { errors: [{ field, reason: IMAGE_NOT_PROCESSED }], cause: error });
          }
          throw error;
        });
      deps.logger.info('backend answered', {
        requestId,
        operation: operation.path,
        backendMs: Date.now() - started,
        imageSource: field === 'image.url' ? 'url' : 'bytes',
        imageBytes: bytes.length,
      });
      return jsonResult(200, result, requestId);
    });
}

/** `/prod/v1/...` -> `/v1/...` when a stage prefix is present in `path`. */
function stripStage(path: string): string {
  const index = path.indexOf('/v1/');
  return index >= 0 ? path.slice(index) : path;
}
