/** SSRF-safe image download for `image.url`: policy, fetcher and the fetch-image Lambda's contract. */
export {
  IMAGE_URL_FIELD,
  MAX_IMAGE_URL_LENGTH,
  STANDARD_PORTS,
  ImageFetchConfigError,
  checkImageUrl,
  checkPort,
  checkResolvedAddresses,
  classifyAddress,
  deployableAllowCidrProblems,
  isLoopbackHost,
  MIN_DEPLOYABLE_PREFIX_V4,
  MIN_DEPLOYABLE_PREFIX_V6,
  describeRange,
  effectivePort,
  ipLiteralHost,
  parseAllowCidrs,
  type AddressVerdict,
  type AllowCidrProblem,
  type Cidr,
} from './address-policy.js';
export {
  DEFAULT_IMAGE_FETCH_CONFIG,
  IMAGE_FETCH_USER_AGENT,
  MAX_IMAGE_BYTES_LIMIT,
  createImageFetcher,
  imageFetchConfigFromEnv,
  type HostResolver,
  type ImageFetchConfig,
  type ImageFetcher,
  type ResolvedAddress,
} from './fetch-image.js';
export { imageBytesFromResult, type FetchImageEvent, type FetchImageResult } from './result.js';
