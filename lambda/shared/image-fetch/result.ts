/**
 * The fetch-image function's wire contract, on its own so the proxy can use it
 * without bundling the downloader (and its HTTP client).
 */
import { ApiError, type ProblemKind } from '../problem.js';
import { IMAGE_URL_FIELD } from './address-policy.js';

/** What the proxy sends to the fetch-image Lambda. */
export interface FetchImageEvent {
  /** The client's `image.url`. */
  readonly url: string;
}

/** What the fetch-image Lambda answers (JSON; the handler never throws). */
export type FetchImageResult =
  | { readonly ok: true; readonly bytesBase64: string; readonly contentLength: number }
  | { readonly ok: false; readonly problem: { readonly kind: ProblemKind; readonly detail: string } };

/**
 * Turns a fetch-image result back into image bytes, for the proxy.
 * @throws ApiError with the result's problem kind and detail when `ok` is false.
 */
export function imageBytesFromResult(result: FetchImageResult): Buffer {
  if (!result.ok) {
    const { kind, detail } = result.problem;
    const reason = detail.startsWith(`${IMAGE_URL_FIELD} `) ? detail.slice(IMAGE_URL_FIELD.length + 1) : detail;
    throw new ApiError(kind, detail, { errors: [{ field: IMAGE_URL_FIELD, reason }] });
  }
  return Buffer.from(result.bytesBase64, 'base64');
}
