/**
 * Every limit the API enforces, in one place (docs/api.md's limits table mirrors this file).
 */
export const LIMITS = {
  /**
   * Lambda's synchronous invocation payload limit is 6 MB (6,291,456 bytes) for the whole event, and
   * API Gateway's proxy event carries the body as a JSON string beside the headers (twice: headers and
   * multiValueHeaders, each up to API Gateway's 10 KB of headers) and the request context: 64 KiB of
   * headroom keeps every body up to this size inside the invoke limit (API Gateway REST caps at 10 MB).
   */
  maxRequestBodyBytes: 6 * 1024 * 1024 - 64 * 1024,
  /** API Gateway REST API payload limit (10 MB), imitated by the local gateway. */
  apiGatewayMaxBodyBytes: 10 * 1024 * 1024,
  /** Decompression-bomb guard: no side above 8,192 px ... */
  maxImageSidePx: 8192,
  /** ... and no more than 40 megapixels in all. */
  maxImagePixels: 40_000_000,
  /** An image.url may be at most 2,048 characters. */
  maxUrlLength: 2048,
  /** maxFaceCount is an integer 1..10 (vendor docs), default 1. */
  minFaceCount: 1,
  maxFaceCount: 10,
  defaultFaceCount: 1,
  /** Compare: at most 4,096 numbers per embedding. */
  maxEmbeddingLength: 4096,
  /** API Gateway's default integration timeout is 29 s; the backend call must give up before it. */
  apiGatewayIntegrationTimeoutMs: 29_000,
  defaultBackendTimeoutMs: 25_000,
} as const;
