/**
 * fetch-image Lambda (no VPC, internet egress): downloads a client's
 * `image.url` for the proxy function, which has no route to the internet.
 * Event `{ url }`; answers `{ ok, bytesBase64, contentLength }` or
 * `{ ok: false, problem }` and never throws. Logs the outcome, size, duration
 * and refusal reason only: never the URL (its query may carry a token) and
 * never image bytes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { ApiError } from './shared/problem.js';
import {
  IMAGE_URL_FIELD,
  createImageFetcher,
  imageFetchConfigFromEnv,
  type FetchImageEvent,
  type FetchImageResult,
} from './shared/image-fetch/index.js';

const logger = new Logger({ serviceName: 'fetch-image' });
// Built at init so a malformed IMAGE_FETCH_* variable fails the cold start, not a request.
const fetcher = createImageFetcher(imageFetchConfigFromEnv());

/** Downloads `event.url` under the SSRF policy; see the module comment for the result shape. */
export async function handler(event: FetchImageEvent, context?: Context): Promise<FetchImageResult> {
  if (context) logger.addContext(context);
  const started = performance.now();
  const durationMs = () => Math.round(performance.now() - started);
  try {
    const url: unknown = (event as Partial<FetchImageEvent> | null | undefined)?.url;
    if (typeof url !== 'string') {
      throw new ApiError('image-url-rejected', `${IMAGE_URL_FIELD} must be a string`, {
        errors: [{ field: IMAGE_URL_FIELD, reason: 'must be a string' }],
      });
    }
    const bytes = await fetcher.fetch(url);
    const contentLength = bytes.length; // the size only: the image itself never reaches a log
    logger.info('image fetched', { outcome: 'ok', contentLength, durationMs: durationMs() });
    return { ok: true, bytesBase64: bytes.toString('base64'), contentLength: bytes.length };
  } catch (err) {
    if (err instanceof ApiError) {
      logger.info('image refused', { outcome: 'refused', kind: err.kind, reason: err.message, durationMs: durationMs() });
      return { ok: false, problem: { kind: err.kind, detail: err.message } };
    }
    // Not expected: the fetcher maps every failure to an ApiError. Log the error's
    // name only (a message could quote the URL) and answer as a failed download.
    logger.error('image fetch crashed', { outcome: 'error', errorName: (err as Error)?.name, durationMs: durationMs() });
    return { ok: false, problem: { kind: 'image-fetch-failed', detail: `${IMAGE_URL_FIELD} could not be downloaded` } };
  }
}
