/**
 * Where the proxy gets the bytes of an `image.url`: in AWS by invoking the
 * fetch-image function (outside the VPC); locally by calling the same fetch
 * code in-process (`createImageFetcher`). Both satisfy `ImageUrlFetcher`.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { ImageFetchOptions } from './image-fetch/fetch-image.js';
import { imageBytesFromResult, type FetchImageEvent, type FetchImageResult } from './image-fetch/result.js';
import { ApiError, isProblemKind } from './problem.js';

/**
 * Resolves an `image.url` to bytes. `options.signal` carries the request's
 * deadline: when it aborts, the fetcher stops and throws the signal's reason.
 * (The in-process `createImageFetcher` satisfies this interface.)
 */
export interface ImageUrlFetcher {
  fetch(url: string, options?: ImageFetchOptions): Promise<Buffer>;
}

function isFetchImageResult(value: unknown): value is FetchImageResult {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.ok === true) return typeof v.bytesBase64 === 'string';
  const problem = v.problem as Record<string, unknown> | undefined;
  return v.ok === false && typeof problem?.detail === 'string' && isProblemKind(problem.kind);
}

/**
 * Invokes the fetch-image Lambda function synchronously (RequestResponse). The SDK is
 * imported on the first URL request, so cold starts that only see image.bytes skip its ~70 ms import.
 */
export function lambdaImageFetcher(functionName: string, client?: LambdaClient): ImageUrlFetcher {
  let sdk: Promise<typeof import('@aws-sdk/client-lambda')> | undefined;
  let lambda = client;
  return {
    async fetch(url, options) {
      const signal = options?.signal;
      let output;
      try {
        sdk ??= import('@aws-sdk/client-lambda');
        const { InvokeCommand, LambdaClient: Client } = await sdk;
        lambda ??= new Client({});
        // abortSignal ends the HTTP request (and the SDK's retries) when the request's deadline passes.
        output = await lambda.send(
          new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify({ url } satisfies FetchImageEvent)) }),
          { abortSignal: signal },
        );
      } catch (error) {
        if (signal?.aborted && signal.reason instanceof ApiError) throw signal.reason;
        if ((error as Error).name === 'TooManyRequestsException') {
          throw new ApiError('service-unavailable', 'The image fetcher is throttled; retry later.', { headers: { 'retry-after': '1' } });
        }
        throw new ApiError('bad-gateway', 'The image fetcher could not be invoked.', { cause: error });
      }
      if (output.FunctionError || !output.Payload) throw new ApiError('bad-gateway', 'The image fetcher failed.');
      let result: unknown;
      try {
        result = JSON.parse(Buffer.from(output.Payload).toString('utf8'));
      } catch {
        result = undefined;
      }
      if (!isFetchImageResult(result)) throw new ApiError('bad-gateway', 'The image fetcher answered with an unexpected result.');
      return imageBytesFromResult(result);
    },
  };
}

/** For a deployment without a fetch-image function: `image.url` is refused with a clear 400. */
export const urlImagesDisabled: ImageUrlFetcher = {
  async fetch() {
    const reason = 'is not enabled in this deployment; send the image as image.bytes';
    throw new ApiError('image-url-rejected', `image.url ${reason}`, { errors: [{ field: 'image.url', reason }] });
  },
};
