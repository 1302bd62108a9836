/**
 * verify-faces (extension, not in the vendor's API): two images in, one similarity out.
 * Each image is validated and resolved exactly as the vendor operations' `image` (face-proxy.ts:
 * same schema, same SSRF-safe download, same decompression-bomb check); both go to the backend's
 * get-face-embeddings with maxFaceCount 1 concurrently (two calls in flight, one request deadline);
 * the two embeddings are scored by `compareSimilarity`, the scoring path of compare-face-embeddings,
 * so the answer is the number compare-face-embeddings gives for the same pair in this deployment's
 * mode (score table, its fallback to forwarding, or forwarding). The embeddings never leave this
 * function: not in the answer, a log line or an error.
 */
import { compareSimilarity, type CompareDeps } from './compare.js';
import type { BackendClient } from './backend-client.js';
import {
  GetFaceEmbeddingsResponseSchema,
  PATHS,
  parseRequest,
  VerifyFacesRequestSchema,
  type Face,
  type GetFaceEmbeddingsResponse,
  type VerifyFacesResponse,
} from './contract.js';
import { budgetExhausted, startRequestDeadline, type RemainingTime, type RequestDeadline } from './deadline.js';
import { errorForImage, postImage, resolveImage, type ResolvedImage } from './face-proxy.js';
import { answer, jsonResult, readJsonBody, type ApiEvent, type ApiResult, type HandlerLogger } from './http.js';
import type { ImageUrlFetcher } from './image-source.js';
import { ApiError, type FieldError } from './problem.js';

/** The `errors[].reason` of an image on which the backend found no face. */
export const NO_FACE_FOUND = 'no face found';

/** Dependencies of {@link createVerifyFacesHandler}. */
export interface VerifyFacesDeps {
  /** The backend the images go to (get-face-embeddings). */
  readonly backend: BackendClient;
  /** Resolves `image1.url` / `image2.url` (the same fetcher as the vendor operations'). */
  readonly imageFetcher: ImageUrlFetcher;
  /** How the two embeddings are scored: the compare function's own configuration (table, fallback or forward). */
  readonly scoring: CompareDeps;
  readonly logger: HandlerLogger;
  /**
   * API Gateway's integration timeout for this route (the request deadline is derived from it).
   * @default LIMITS.apiGatewayIntegrationTimeoutMs (29 000)
   */
  readonly integrationTimeoutMs?: number;
}

const NAMES = ['image1', 'image2'] as const;

/**
 * Waits for both images' work and returns both values; when either failed, throws one error.
 * Client errors win over upstream ones (the client must fix its input either way) and the client
 * errors of both images are merged, so a request with two bad images names both.
 */
async function both<T>(work: readonly [Promise<T>, Promise<T>]): Promise<[T, T]> {
  const [first, second] = await Promise.allSettled(work);
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
  const failures = [first, second].flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  const clientErrors = failures.filter((error): error is ApiError => error instanceof ApiError && error.status < 500);
  if (clientErrors.length === 0) throw failures[0];
  if (clientErrors.length === 1) throw clientErrors[0];
  const [a, b] = clientErrors as [ApiError, ApiError];
  const errors: FieldError[] = [...(a.errors ?? []), ...(b.errors ?? [])];
  throw new ApiError(a.kind, `${a.message}; ${b.message}`, { errors, cause: a });
}

/** The largest face of one image (the backend's maxFaceCount 1 rule), or a 400 naming the image. */
function largestFace(answer: GetFaceEmbeddingsResponse, name: (typeof NAMES)[number]): { face: Face; embedding: number[]; unprocessed: number } {
  const first = answer.faces?.[0];
  if (!first) {
    throw new ApiError('image-rejected', `${name}: ${NO_FACE_FOUND}`, { errors: [{ field: name, reason: NO_FACE_FOUND }] });
  }
  if (!first.embedding || first.embedding.length === 0) {
    throw new ApiError('bad-gateway', `${name}: the backend found a face but answered no embedding for it.`);
  }
  return { face: first.face, embedding: first.embedding, unprocessed: answer.unprocessedFaceCount };
}

/** The verify-faces handler (Lambda and local gateway). */
export function createVerifyFacesHandler(deps: VerifyFacesDeps): (event: ApiEvent, context?: RemainingTime) => Promise<ApiResult> {
  return async (event, context) => {
    const deadline = startRequestDeadline({ integrationTimeoutMs: deps.integrationTimeoutMs, context });
    try {
      return await answer(event, deps.logger, (requestId) => verify(deps, event, requestId, deadline));
    } finally {
      deadline.dispose();
    }
  };
}

async function verify(deps: VerifyFacesDeps, event: ApiEvent, requestId: string, deadline: RequestDeadline): Promise<ApiResult> {
  // One schema for both images: a body with two bad images names both fields.
  const request = parseRequest(VerifyFacesRequestSchema, readJsonBody(event));
  // Both downloads (or decodes) at once; no backend call unless both images are usable.
  const images = await both(NAMES.map((name) => resolveImage(request[name], name, deps.imageFetcher, deadline)) as [Promise<ResolvedImage>, Promise<ResolvedImage>]);

  const started = Date.now();
  // Two get-face-embeddings calls in flight, each with what is left of the one request deadline.
  const answers = await both(
    NAMES.map((name, i) =>
      postImage(deps.backend, PATHS.getFaceEmbeddings, GetFaceEmbeddingsResponseSchema, images[i]!, 1, requestId, deadline, `waiting for the backend (${name})`)
        // A backend failure says which image's call it was.
        .catch((error: unknown) => {
          throw errorForImage(error, name);
        })
        .then((result) => largestFace(result, name)),
    ) as [Promise<ReturnType<typeof largestFace>>, Promise<ReturnType<typeof largestFace>>],
  );
  const backendMs = Date.now() - started;
  const [one, two] = answers;

  if (one.embedding.length !== two.embedding.length) {
    throw new ApiError('bad-gateway', `The backend answered embeddings of different sizes (${one.embedding.length} and ${two.embedding.length}).`);
  }
  const leftMs = deadline.remainingMs();
  if (leftMs <= 0) throw budgetExhausted('before the embeddings were compared', deadline.budgetMs);
  const outcome = await deadline.race(compareSimilarity(deps.scoring, one.embedding, two.embedding, requestId, { timeoutMs: leftMs }), 'comparing the embeddings');
  if ('refused' in outcome) {
    // The embeddings came from our own backend: a table that cannot score them is a server-side mismatch.
    const why = outcome.refused === 'dimension'
      ? `the score table expects ${outcome.dimension} numbers, the backend answered ${one.embedding.length}`
      : 'the backend answered a zero embedding';
    throw new ApiError('bad-gateway', `The face embeddings could not be compared (${why}).`);
  }

  deps.logger.info('verified', {
    requestId,
    operation: PATHS.verifyFaces,
    backendMs,
    totalMs: Date.now() - started,
    imageSources: images.map((image) => image.source),
    imageBytes: images.map((image) => image.bytes.length),
  });
  const body: VerifyFacesResponse = {
    similarity: outcome.similarity,
    face1: one.face,
    face2: two.face,
    unprocessedFaceCount1: one.unprocessed,
    unprocessedFaceCount2: two.unprocessed,
  };
  return jsonResult(200, body, requestId);
}
