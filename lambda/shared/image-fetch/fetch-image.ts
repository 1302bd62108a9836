/**
 * SSRF-safe download of a client's `image.url`. Each hop (the URL and at most
 * `maxRedirects` redirects) is checked by the address policy, resolved once,
 * and connected to exactly the addresses that were checked (`node:http(s)`
 * request on its own connection whose `lookup` only answers with them), so a
 * DNS answer cannot change between check and connect (no rebinding). TLS still
 * verifies the certificate against the host name. Bodies are capped while
 * streaming and must start with a JPEG or PNG signature. Built on node:http
 * and node:https, not undici, to keep the Lambda bundle small.
 */
import { promises as dns } from 'node:dns';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { RequestOptions } from 'node:https';
import { http, https } from '../node-http.js';
import type { LookupFunction, Socket } from 'node:net';
import { IMAGE_SIGNATURE_BYTES, sniffImageFormat } from '../image-signature.js';
import { ApiError } from '../problem.js';
import {
  IMAGE_URL_FIELD,
  ImageFetchConfigError,
  checkImageUrl,
  checkResolvedAddresses,
  effectivePort,
  ipLiteralHost,
  parseAllowCidrs,
  type Cidr,
} from './address-policy.js';

/** One address a host name resolved to. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** Resolves a host name to every address it has (the policy checks them all). */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Settings of an image fetcher; {@link imageFetchConfigFromEnv} reads them from the environment. */
export interface ImageFetchConfig {
  /** CIDRs fetched even when private/loopback, on any port (`IMAGE_FETCH_ALLOW_CIDRS`). @default [] */
  readonly allowCidrs: readonly string[];
  /** Largest image in bytes (`IMAGE_FETCH_MAX_BYTES`). @default 4194304 (4 MiB) */
  readonly maxBytes: number;
  /** Time to establish TCP (and TLS) to one hop (`IMAGE_FETCH_CONNECT_TIMEOUT_MS`). @default 3000 */
  readonly connectTimeoutMs: number;
  /** Time for the whole download, DNS, redirects and body included (`IMAGE_FETCH_TIMEOUT_MS`). @default 10000 */
  readonly totalTimeoutMs: number;
  /** Redirects followed; one more is refused. @default 3 */
  readonly maxRedirects: number;
  /** Name resolution, injectable for tests. @default `dns.lookup(host, { all: true })` */
  readonly lookup?: HostResolver;
}

/**
 * Lambda's synchronous response payload limit is 6 MB = 6,291,456 bytes
 * (Lambda quotas). The image travels back as base64 (4 bytes per 3), inside a
 * small JSON envelope (1 KiB kept for it), so an image may be at most
 * floor((6,291,456 - 1,024) / 4) * 3 = 4,717,824 bytes.
 */
export const MAX_IMAGE_BYTES_LIMIT = Math.floor((6_291_456 - 1024) / 4) * 3;

/** Defaults: 4 MiB, 3 s connect, 10 s total, 3 redirects, no allow-list. */
export const DEFAULT_IMAGE_FETCH_CONFIG: ImageFetchConfig = {
  allowCidrs: [],
  maxBytes: 4 * 1024 * 1024,
  connectTimeoutMs: 3_000,
  totalTimeoutMs: 10_000,
  maxRedirects: 3,
};

/** Fixed request identity: no cookies, no credentials, no Authorization, ever. */
export const IMAGE_FETCH_USER_AGENT = 'face-verification-image-fetch/1';
const REQUEST_HEADERS = {
  'user-agent': IMAGE_FETCH_USER_AGENT,
  accept: 'image/jpeg, image/png',
  // Signatures are sniffed on the raw bytes, so ask for no content coding.
  'accept-encoding': 'identity',
} as const;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Downloads images from client URLs. */
export interface ImageFetcher {
  /**
   * Downloads the JPEG or PNG at `url`.
   * @throws ApiError `image-url-rejected` (policy) or `image-fetch-failed` (download).
   */
  fetch(url: string, options?: ImageFetchOptions): Promise<Buffer>;
}

/** Per-download options. */
export interface ImageFetchOptions {
  /** Ends the download early (the proxy's request deadline); its reason is what `fetch` throws. @default none */
  readonly signal?: AbortSignal;
}

const systemLookup: HostResolver = (hostname) => dns.lookup(hostname, { all: true });

const failed = (reason: string): ApiError =>
  new ApiError('image-fetch-failed', `${IMAGE_URL_FIELD} ${reason}`, {
    errors: [{ field: IMAGE_URL_FIELD, reason }],
  });

function positiveInteger(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ImageFetchConfigError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function validateConfig(config: ImageFetchConfig): void {
  positiveInteger('IMAGE_FETCH_MAX_BYTES', config.maxBytes);
  if (config.maxBytes > MAX_IMAGE_BYTES_LIMIT) {
    throw new ImageFetchConfigError(
      `IMAGE_FETCH_MAX_BYTES must be at most ${MAX_IMAGE_BYTES_LIMIT}: its base64 must fit Lambda's 6 MB response`,
    );
  }
  positiveInteger('IMAGE_FETCH_CONNECT_TIMEOUT_MS', config.connectTimeoutMs);
  positiveInteger('IMAGE_FETCH_TIMEOUT_MS', config.totalTimeoutMs);
  positiveInteger('maxRedirects', config.maxRedirects, 0);
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ImageFetchConfigError(`${name} must be a whole number, got '${raw}'`);
  return Number(raw);
}

/**
 * Reads the fetcher's settings from the environment and validates them, so a
 * bad value fails the Lambda's start-up, not a client's request.
 * @throws ImageFetchConfigError for a malformed CIDR or number.
 */
export function imageFetchConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ImageFetchConfig {
  const cidrSpec = env.IMAGE_FETCH_ALLOW_CIDRS ?? '';
  parseAllowCidrs(cidrSpec); // throws now, with the variable's name
  const config: ImageFetchConfig = {
    allowCidrs: cidrSpec.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    maxBytes: intFromEnv(env, 'IMAGE_FETCH_MAX_BYTES', DEFAULT_IMAGE_FETCH_CONFIG.maxBytes),
    connectTimeoutMs: intFromEnv(env, 'IMAGE_FETCH_CONNECT_TIMEOUT_MS', DEFAULT_IMAGE_FETCH_CONFIG.connectTimeoutMs),
    totalTimeoutMs: intFromEnv(env, 'IMAGE_FETCH_TIMEOUT_MS', DEFAULT_IMAGE_FETCH_CONFIG.totalTimeoutMs),
    maxRedirects: DEFAULT_IMAGE_FETCH_CONFIG.maxRedirects,
  };
  validateConfig(config);
  return config;
}

/**
 * Creates a fetcher; settings not given take {@link DEFAULT_IMAGE_FETCH_CONFIG}
 * (not the environment: use {@link imageFetchConfigFromEnv} for that).
 * @throws ImageFetchConfigError for an invalid setting.
 */
export function createImageFetcher(config: Partial<ImageFetchConfig> = {}): ImageFetcher {
  const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const settings: ImageFetchConfig = { ...DEFAULT_IMAGE_FETCH_CONFIG, ...given };
  validateConfig(settings);
  const allow = parseAllowCidrs(settings.allowCidrs, 'allowCidrs');
  const lookup = settings.lookup ?? systemLookup;
  return { fetch: (url, options) => fetchImage(url, settings, allow, lookup, options?.signal) };
}

async function fetchImage(
  raw: string,
  config: ImageFetchConfig,
  allow: readonly Cidr[],
  lookup: HostResolver,
  outer?: AbortSignal,
): Promise<Buffer> {
  if (typeof raw !== 'string') {
    throw new ApiError('image-url-rejected', `${IMAGE_URL_FIELD} must be a string`, {
      errors: [{ field: IMAGE_URL_FIELD, reason: 'must be a string' }],
    });
  }
  let url = checkImageUrl(raw, allow);
  const controller = new AbortController();
  // One deadline for DNS, every hop and the whole body: a slow-drip body cannot outlive it.
  const timer = setTimeout(
    () => controller.abort(failed(`did not finish downloading within ${config.totalTimeoutMs} ms`)),
    config.totalTimeoutMs,
  );
  // The caller's deadline (the whole request's budget) ends the download the same way.
  const onOuterAbort = () => controller.abort(outer!.reason);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    for (let redirects = 0; ; redirects += 1) {
      const redirected = redirects > 0;
      const addresses = await resolveHost(url, lookup, controller.signal);
      checkResolvedAddresses(url, addresses.map((a) => a.address), allow, redirected);
      const outcome = await getOnce(url, addresses, config, controller.signal);
      if (outcome.bytes) return outcome.bytes;
      if (redirects >= config.maxRedirects) throw failed(`redirected more than ${config.maxRedirects} times`);
      const next = URL.canParse(outcome.location, url.href) ? new URL(outcome.location, url).href : outcome.location;
      url = checkImageUrl(next, allow, true);
    }
  } catch (err) {
    throw toApiError(err, controller.signal);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

/** The addresses to connect to: the IP literal itself, or one DNS answer, in full. */
async function resolveHost(url: URL, lookup: HostResolver, signal: AbortSignal): Promise<readonly ResolvedAddress[]> {
  const literal = ipLiteralHost(url);
  if (literal !== null) return [{ address: literal, family: literal.includes(':') ? 6 : 4 }];
  let answer: readonly ResolvedAddress[];
  try {
    answer = await abortable(lookup(url.hostname), signal);
  } catch (err) {
    if (signal.aborted) throw err;
    const code = errorCode(err);
    throw failed(`host name could not be resolved${code ? ` (${code})` : ''}`);
  }
  if (answer.length === 0) throw failed('host name could not be resolved');
  return answer;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A `lookup` for `net.connect`/`tls.connect` that never queries DNS: it
 * answers only for the checked host, and only with the checked addresses.
 */
function pinnedLookup(hostname: string, addresses: readonly ResolvedAddress[]): LookupFunction {
  return (host, options, callback) => {
    const family = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
    const candidates = addresses.filter((a) => family === 0 || a.family === family);
    process.nextTick(() => {
      const first = candidates[0];
      if (host !== hostname || first === undefined) {
        const err: NodeJS.ErrnoException = new Error('connection target is not the checked host');
        err.code = 'ERR_IMAGE_FETCH_NOT_PINNED';
        callback(err, '', 0);
      } else if (options.all) {
        callback(null, candidates.map((a) => ({ address: a.address, family: a.family })));
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

type HopOutcome = { bytes: Buffer; location?: undefined } | { bytes?: undefined; location: string };

/**
 * Starts one GET on a connection of its own (`agent: false`: a throw-away
 * agent without keep-alive, since each URL may be a new host) to the checked
 * addresses only. The connect timeout covers TCP and, for https, the TLS
 * handshake: the timer stops at `connect` / `secureConnect`.
 */
function startRequest(url: URL, addresses: readonly ResolvedAddress[], config: ImageFetchConfig): ClientRequest {
  const literal = ipLiteralHost(url);
  const hostname = literal ?? url.hostname;
  const secure = url.protocol === 'https:';
  const options: RequestOptions = {
    method: 'GET',
    hostname,
    port: effectivePort(url),
    path: `${url.pathname}${url.search}`,
    headers: REQUEST_HEADERS,
    agent: false,
    // net.connect skips lookup for an IP literal; for a name it asks this one, never DNS.
    lookup: pinnedLookup(hostname, addresses),
  };
  if (secure) {
    // SNI and the certificate check use the host name, not the pinned address
    // (RFC 6066 allows no IP literal as SNI). Explicit so NODE_TLS_REJECT_UNAUTHORIZED cannot turn it off.
    options.servername = literal === null ? hostname : '';
    options.rejectUnauthorized = true;
  }
  const req = (secure ? https : http).request(options);
  req.once('socket', (socket: Socket) => {
    const timer = setTimeout(
      () => req.destroy(failed(`did not accept a connection within ${config.connectTimeoutMs} ms`)),
      config.connectTimeoutMs,
    );
    socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
  req.end();
  return req;
}

/** The response head, or the request's first error (later errors are ignored: the listener stays). */
function responseOf(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.on('error', reject);
  });
}

/** One GET over a fresh, pinned connection that is destroyed afterwards (no keep-alive: each URL is a new host). */
async function getOnce(
  url: URL,
  addresses: readonly ResolvedAddress[],
  config: ImageFetchConfig,
  signal: AbortSignal,
): Promise<HopOutcome> {
  if (signal.aborted) throw signal.reason;
  const req = startRequest(url, addresses, config);
  let res: IncomingMessage | undefined;
  // The total deadline ends the hop wherever it is: connecting, waiting for headers, or mid-body.
  const onAbort = () => {
    const reason = signal.reason as Error;
    res?.destroy(reason);
    req.destroy(reason);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    res = await responseOf(req);
    // Read errors reach us through the async iterator; after we stop reading (redirect,
    // bad status, cap) a late 'error' from the destroyed stream needs no handling.
    res.on('error', () => undefined);
    const statusCode = res.statusCode ?? 0;
    if (REDIRECT_STATUSES.has(statusCode)) {
      res.destroy();
      const location = res.headers.location;
      if (typeof location !== 'string' || location === '') throw failed(`answered ${statusCode} without a Location`);
      return { location };
    }
    if (statusCode < 200 || statusCode > 299) {
      res.destroy();
      throw failed(`answered with HTTP status ${statusCode}`);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > config.maxBytes) {
      res.destroy();
      throw tooLarge(config.maxBytes);
    }
    return { bytes: await readImage(res, config.maxBytes) };
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Closes the socket whatever happened (abort, cap exceeded, bad status); a no-op once it has closed.
    req.destroy();
  }
}

const tooLarge = (maxBytes: number): ApiError => failed(`image is larger than ${maxBytes} bytes`);

/** Reads a body up to `maxBytes`, stopping as soon as it is too large or is not a JPEG/PNG. */
async function readImage(body: AsyncIterable<Buffer> & { destroy(): unknown }, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  let sniffed = false;
  // Leaving the loop early (throw) destroys the stream, which aborts the request.
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
    if (!sniffed && total >= IMAGE_SIGNATURE_BYTES) {
      assertImageSignature(Buffer.concat(chunks));
      sniffed = true;
    }
  }
  const bytes = Buffer.concat(chunks, total);
  if (!sniffed) assertImageSignature(bytes);
  return bytes;
}

/** @throws ApiError `image-fetch-failed` unless the bytes start with a JPEG or PNG signature (Content-Type is ignored). */
function assertImageSignature(bytes: Buffer): void {
  if (!sniffImageFormat(bytes)) throw failed('did not return a JPEG or PNG image');
}

/** A short, safe error code (never a message: messages may quote the host or URL). */
function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth += 1) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(code)) return code;
  }
  return undefined;
}

/** Maps anything thrown during a download to an ApiError whose message names no URL. */
function toApiError(err: unknown, signal: AbortSignal): ApiError {
  if (err instanceof ApiError) return err;
  if (signal.aborted && signal.reason instanceof ApiError) return signal.reason;
  const code = errorCode(err);
  if (code && TLS_VERIFY_CODES.has(code)) return failed(`TLS certificate could not be verified (${code})`);
  return failed(`could not be downloaded${code ? ` (${code})` : ''}`);
}
