/**
 * Where the proxy gets the bytes of an `image.url`: in AWS by invoking the
 * fetch-image function (outside the VPC); locally by calling the same fetch
 * code in-process. Both sit behind `ImageUrlFetcher`.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ApiError, PROBLEM_KINDS, type ProblemKind } from './problem.js';

export interface ImageUrlFetcher {
  /** Downloads a JPEG/PNG; throws an ApiError (4xx for the client's URL, 5xx for our trouble). */
  fetch(url: string): Promise<Buffer>;
}

/** The fetch-image function's event and result (its result never throws across the wire). */
export interface FetchImageEvent {
  readonly url: string;
}
export type FetchImageResult =
  | { readonly ok: true; readonly bytesBase64: string; readonly contentLength: number }
  | { readonly ok: false; readonly problem: { readonly kind: ProblemKind; readonly detail: string } };

/** Invokes the fetch-image Lambda function synchronously (RequestResponse). */
export function lambdaImageFetcher(functionName: string, client: LambdaClient = new LambdaClient({})): ImageUrlFetcher {
  return {
    async fetch(url) {
      let output;
      try {
        output = await client.send(
          new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify({ url } satisfies FetchImageEvent)) }),
        );
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'TooManyRequestsException') {
          throw new ApiError('service-unavailable', 'The image fetcher is throttled; retry later.', { headers: { 'retry-after': '1' } });
        }
        throw new ApiError('bad-gateway', 'The image fetcher could not be invoked.', { cause: error });
      }
      if (output.FunctionError || !output.Payload) {
        throw new ApiError('bad-gateway', 'The image fetcher failed.');
      }
      let result: FetchImageResult;
      try {
        result = JSON.parse(Buffer.from(output.Payload).toString('utf8')) as FetchImageResult;
      } catch {
        throw new ApiError('bad-gateway', 'The image fetcher answered with garbage.');
      }
      if (result.ok === true && typeof result.bytesBase64 === 'string') return Buffer.from(result.bytesBase64, 'base64');
      if (result.ok === false && result.problem && result.problem.kind in PROBLEM_KINDS) {
        throw new ApiError(result.problem.kind, String(result.problem.detail), { errors: [{ field: 'image.url', reason: String(result.problem.detail) }] });
      }
      throw new ApiError('bad-gateway', 'The image fetcher answered with an unexpected result.');
    },
  };
}
