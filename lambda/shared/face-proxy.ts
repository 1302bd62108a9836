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

  const image = await resolveImage(request.image, 'image', deps.imageFetcher, deadline);
  const started = Date.now();
  const result = await postImage(deps.backend, operation.path, operation.schema, image, request.maxFaceCount, requestId, deadline);
  deps.logger.info('backend answered', {
    requestId,
    operation: operation.path,
    backendMs: Date.now() - started,
    imageSource: image.source,
    imageBytes: image.bytes.length,
  });
  return jsonResult(200, result, requestId);
}

/** Which request field an image came in: the vendor operations' `image`, verify-faces' `image1` / `image2`. */
export type ImageFieldName = 'image' | 'image1' | 'image2';

/** An image of a request, resolved to bytes and checked against decompression bombs. */
export interface ResolvedImage {
  readonly bytes: Buffer;
  /** The bytes as strict base64 (what the backend is sent). */
  readonly base64: string;
  /** The field problems name: `image.bytes`, `image1.url`, ... */
  readonly field: `${ImageFieldName}.bytes` | `${ImageFieldName}.url`;
  readonly source: 'bytes' | 'url';
}

/**
 * The same ApiError naming `name` instead of `image` (`image.url ...` -> `image2.url ...`): the image
 * fetcher speaks of `image.url`, verify-faces has two images. Other errors get the image's name prefixed.
 */
export function errorForImage(error: unknown, name: ImageFieldName): unknown {
  if (name === 'image' || !(error instanceof ApiError)) return error;
  const rename = (text: string) => text.replace(/^image\./, `${name}.`);
  const detail = /^image\./.test(error.message) ? rename(error.message) : error.message.includes(name) ? error.message : `${name}: ${error.message}`;
  return new ApiError(error.kind, detail, {
    errors: error.errors?.map((e) => ({ field: rename(e.field), reason: e.reason })),
    headers: error.headers ? { ...error.headers } : undefined,
    cause: error,
  });
}

/**
 * Resolves a validated image to bytes: `url` through the SSRF-safe fetcher within the request's
 * deadline, `bytes` decoded; then refuses decompression bombs (header only).
 * @throws ApiError naming `<name>.bytes` / `<name>.url`
 */
export async function resolveImage(
  image: { readonly bytes?: string | null; readonly url?: string | null },
  name: ImageFieldName,
  fetcher: ImageUrlFetcher,
  deadline: RequestDeadline,
): Promise<ResolvedImage> {
  let bytes: Buffer;
  let base64: string;
  let field: ResolvedImage['field'];
  if (image.url) {
    field = `${name}.url`;
    try {
      bytes = await deadline.race(fetcher.fetch(image.url, { signal: deadline.signal }), `downloading ${name}.url`);
    } catch (error) {
      throw errorForImage(error, name);
    }
    base64 = bytes.toString('base64');
  } else {
    field = `${name}.bytes`;
    base64 = image.bytes!;
    bytes = Buffer.from(base64, 'base64');
  }
  const check = checkImageDimensions(bytes);
  if (!check.ok) {
    const reason = image.url ? `the downloaded image ${check.reason}` : check.reason;
    throw new ApiError('image-rejected', `${field}: ${reason}`, { errors: [{ field, reason }] });
  }
  return { bytes, base64, field, source: image.url ? 'url' : 'bytes' };
}

/**
 * POSTs `{image:{bytes}, maxFaceCount}` to a backend operation with what is left of the request's
 * deadline, and returns its validated answer. An image the backend refuses names `image.field`.
 */
export async function postImage<S extends z.ZodType>(
  backend: BackendClient,
  path: string,
  schema: S,
  image: ResolvedImage,
  maxFaceCount: number,
  requestId: string,
  deadline: RequestDeadline,
  step = 'waiting for the backend',
): Promise<z.output<S>> {
  const { field } = image;
  // The backend gets what is left of the request's budget (and never more than its own timeout).
  const leftMs = deadline.remainingMs();
  if (leftMs <= 0) throw budgetExhausted('before the backend was called', deadline.budgetMs);
  return deadline.race(
    backend
      .postJson(
        path,
        // Strict base64 needs no JSON escaping; concatenation spares re-serialising a multi-megabyte string.
        `{"image":{"bytes":"${image.base64}"},"maxFaceCount":${maxFaceCount}}`,
        schema,
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
    step,
  );
}

/** `/prod/v1/...` -> `/v1/...` when a stage prefix is present in `path`. */
function stripStage(path: string): string {
  const index = path.indexOf('/v1/');
  return index >= 0 ? path.slice(index) : path;
}
