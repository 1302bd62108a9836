/**
 * The REQUEST authorizer (identity source: the Authorization header).
 * - `ApiKey <key>`  -> Allow, usageIdentifierKey = key (API Gateway then checks the
 *   key against its usage plans and applies their throttle and quota).
 * - `Bearer <jwt>`  -> verified with aws-jwt-verify (issuer, audience, JWKS), then
 *   `exp` required and `exp - iat` at most the configured lifetime -> Allow,
 *   usageIdentifierKey = the usage key of the token's client (the `client_id`
 *   claim, else `sub`): a configured client's own key and usage plan, or the
 *   default plan's key, which every unconfigured client shares.
 * - anything else   -> `Unauthorized` (API Gateway answers 401).
 * The header value is never logged; only a short hash identifies a key, and a
 * refused token is logged as one fixed reason ({@link BearerRefusal}).
 */
import { createHash } from 'node:crypto';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { JwtVerifier } from 'aws-jwt-verify';
import {
  FetchError,
  JwkInvalidKtyError,
  JwkInvalidUseError,
  JwksNotAvailableInCacheError,
  JwkValidationError,
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtParseError,
  JwtWithoutValidKidError,
  KidNotFoundInJwksError,
  WaitPeriodNotYetEndedJwkError,
} from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { headerOf, type HandlerLogger } from './http.js';
import { isLoopbackHost } from './image-fetch/address-policy.js';

/** API Gateway maps this exact message to 401; any other error becomes AUTHORIZER_FAILURE (we answer 503). */
export const UNAUTHORIZED = 'Unauthorized';

/** The claim that names a token's client unless configured otherwise (OAuth 2.0 token exchange / RFC 9068). */
export const DEFAULT_CLIENT_CLAIM = 'client_id';
/** Longest token lifetime (`exp - iat`) accepted unless configured otherwise: 24 hours. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;
/** The plan name of Bearer clients that are not configured: they all share its key and limits. */
export const DEFAULT_BEARER_PLAN = 'default';

export interface JwtConfig {
  readonly issuer: string;
  readonly audience: readonly string[];
  /** @default `${issuer}/.well-known/jwks.json` */
  readonly jwksUri?: string;
  /** The claim naming the client a token is metered as; `sub` when a token lacks it. @default 'client_id' */
  readonly clientClaim?: string;
  /** Longest accepted lifetime in seconds: `exp - iat` (or `exp - now` without `iat`). @default 86400 */
  readonly maxLifetimeSeconds?: number;
}

/** The usage key a Bearer client is metered under, and the name of its plan. */
export interface BearerUsage {
  /** The API key value (never logged; only {@link keyId} of it). */
  readonly key: string;
  /** The configured client name, or {@link DEFAULT_BEARER_PLAN}. */
  readonly plan: string;
}

/**
 * Why a Bearer token was refused: one fixed word per kind, safe to log
 * (aws-jwt-verify's errors all have `name` = "Error").
 */
export type BearerRefusal =
  | 'expired'
  | 'not-yet-valid'
  | 'audience'
  | 'issuer'
  | 'signature'
  | 'malformed'
  | 'unknown-key'
  | 'missing-exp'
  | 'lifetime-too-long'
  | 'no-issuer-configured'
  | 'invalid';

export interface AuthorizerDeps {
  readonly jwt?: JwtConfig;
  /**
   * The usage key of a Bearer client (`client` is the client claim's value, or
   * undefined when the token has neither it nor `sub`); undefined when the key
   * is unavailable (the authorizer then fails: 503, never 401).
   */
  readonly bearerUsage?: (client: string | undefined) => Promise<BearerUsage | undefined>;
  readonly logger: HandlerLogger;
  /** JWKS download timeout. @default 3000 */
  readonly jwksTimeoutMs?: number;
  /** Clock for the lifetime check, in ms. @default Date.now */
  readonly now?: () => number;
}

/** The `Unauthorized` error the authorizer throws, carrying the fixed reason (for the local gateway's log). */
export class Unauthorized extends Error {
  constructor(readonly reason: BearerRefusal | 'no credentials sent' | 'unsupported credential scheme' | 'malformed api key') {
    super(UNAUTHORIZED);
    this.name = 'Unauthorized';
  }
}

/** Maps an aws-jwt-verify error to its fixed refusal reason (checked subclass first). */
export function refusalReason(error: unknown): BearerRefusal {
  if (error instanceof JwtExpiredError) return 'expired';
  if (error instanceof JwtNotBeforeError) return 'not-yet-valid';
  if (error instanceof JwtInvalidAudienceError) return 'audience';
  if (error instanceof JwtInvalidIssuerError) return 'issuer';
  if (error instanceof JwtInvalidSignatureError || error instanceof JwtInvalidSignatureAlgorithmError) return 'signature';
  if (
    error instanceof KidNotFoundInJwksError ||
    error instanceof WaitPeriodNotYetEndedJwkError ||
    error instanceof JwtWithoutValidKidError ||
    error instanceof JwkValidationError ||
    error instanceof JwkInvalidUseError ||
    error instanceof JwkInvalidKtyError
  ) {
    return 'unknown-key';
  }
  if (error instanceof JwtParseError) return 'malformed';
  return 'invalid';
}

/**
 * The API key value of a configured Bearer client: the default plan's key (a
 * generated secret) plus a fixed suffix. CloudFormation builds the same value
 * from the secret's dynamic reference (lib/constructs/api.ts), so the template
 * holds no key value and one secret serves every client.
 */
export function bearerClientUsageKey(defaultKey: string, clientName: string): string {
  return `${defaultKey}-client-${clientName}`;
}

/** Configured Bearer clients: client claim value -> client name (`JWT_CLIENTS`, a JSON object). */
export function parseBearerClients(json: string | undefined): ReadonlyMap<string, string> {
  if (json === undefined || json.trim() === '') return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('configuration: JWT_CLIENTS must be a JSON object of client claim value -> client name');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('configuration: JWT_CLIENTS must be a JSON object of client claim value -> client name');
  }
  const clients = new Map<string, string>();
  for (const [claim, name] of Object.entries(parsed)) {
    if (typeof name !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(name)) {
      throw new Error('configuration: JWT_CLIENTS values must be client names (1-32 lower-case letters, digits or dashes)');
    }
    clients.set(claim, name);
  }
  return clients;
}

/**
 * Bearer usage keys from the default plan's key: a configured client gets its
 * own derived key ({@link bearerClientUsageKey}), anyone else the default key.
 */
export function bearerUsageFromDefaultKey(
  defaultKey: () => Promise<string | undefined>,
  clients: ReadonlyMap<string, string>,
): (client: string | undefined) => Promise<BearerUsage | undefined> {
  return async (client) => {
    const key = await defaultKey();
    if (!key) return undefined;
    const name = client === undefined ? undefined : clients.get(client);
    return name === undefined ? { key, plan: DEFAULT_BEARER_PLAN } : { key: bearerClientUsageKey(key, name), plan: name };
  };
}

/** A short, non-reversible id for an API key, for logs and metrics. */
export function keyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** API Gateway keys are 20-128 characters; we accept the printable ASCII it allows. */
const API_KEY_PATTERN = /^[\x21-\x7e]{1,256}$/;
const JWT_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * A JWKS fetcher for aws-jwt-verify that also allows plain http to a loopback host
 * (for a local identity provider or a test JWKS server); everything else must be https.
 */
export function jwksFetcher(timeoutMs: number) {
  return {
    async fetch(uri: string): Promise<ArrayBuffer> {
      const url = new URL(uri);
      // An IP parser decides: `http://127.evil.example` is a DNS name, not loopback.
      const loopback = isLoopbackHost(url.hostname);
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
        throw new FetchError(uri, 'JWKS must be fetched over https');
      }
      let response: Response;
      try {
        response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      } catch (error) {
        throw new FetchError(uri, (error as Error).name);
      }
      if (response.status !== 200) throw new FetchError(uri, `Status code is ${response.status}, expected 200`);
      let body: ArrayBuffer;
      try {
        body = await response.arrayBuffer();
      } catch (error) {
        throw new FetchError(uri, (error as Error).name);
      }
      // A 200 that is not a key set (maintenance page, captive portal) is the identity provider
      // failing, not the caller's token: a fetch error (503), never "invalid token" (401).
      if (!isJwks(body)) throw new FetchError(uri, 'Response is not a JSON Web Key Set');
      return body;
    },
  };
}

/** True when the bytes are a JSON object with a `keys` array (RFC 7517 section 5). */
function isJwks(body: ArrayBuffer): boolean {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { keys?: unknown }).keys);
  } catch {
    return false;
  }
}

/** `arn:aws:execute-api:r:a:api/stage/POST/path` -> `arn:aws:execute-api:r:a:api/stage/*` so a cached policy covers every route. */
export function wildcardResource(methodArn: string): string {
  const [apiAndStage, stage] = methodArn.split('/');
  return stage === undefined ? methodArn : `${apiAndStage}/${stage}/*`;
}

function allow(principalId: string, methodArn: string, usageIdentifierKey: string, context: Record<string, string>): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: wildcardResource(methodArn) }],
    },
    usageIdentifierKey,
    context,
  };
}

export function createAuthorizer(deps: AuthorizerDeps): (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult> {
  const verifier = deps.jwt
    ? JwtVerifier.create(
        {
          issuer: deps.jwt.issuer,
          audience: [...deps.jwt.audience],
          jwksUri: deps.jwt.jwksUri ?? `${deps.jwt.issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
        },
        { jwksCache: new SimpleJwksCache({ fetcher: jwksFetcher(deps.jwksTimeoutMs ?? 3000) }) },
      )
    : undefined;
  const clientClaim = deps.jwt?.clientClaim ?? DEFAULT_CLIENT_CLAIM;
  const maxLifetime = deps.jwt?.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  const now = deps.now ?? Date.now;

  const refuse = (reason: BearerRefusal): never => {
    deps.logger.info('bearer credential refused', { reason });
    throw new Unauthorized(reason);
  };

  return async (event) => {
    const header = headerOf(event.headers as Record<string, string | undefined>, 'authorization')?.trim() ?? '';
    const space = header.indexOf(' ');
    const scheme = space > 0 ? header.slice(0, space).toLowerCase() : header.toLowerCase();
    const credential = space > 0 ? header.slice(space + 1).trim() : '';

    if (scheme === 'apikey' && API_KEY_PATTERN.test(credential)) {
      const id = keyId(credential);
      return allow(`apikey:${id}`, event.methodArn, credential, { authType: 'apikey', keyId: id });
    }

    if (scheme === 'bearer') {
      if (!verifier) {
        deps.logger.warn('bearer credential refused: no JWT issuer configured');
        throw new Unauthorized('no-issuer-configured');
      }
      if (!JWT_PATTERN.test(credential)) refuse('malformed');
      let payload;
      try {
        payload = await verifier.verify(credential);
      } catch (error) {
        if (error instanceof FetchError || error instanceof JwksNotAvailableInCacheError) {
          deps.logger.error('JWKS unavailable', { errorName: (error as Error).name });
          throw new Error('JWKS unavailable');
        }
        return refuse(refusalReason(error));
      }
      // aws-jwt-verify checks `exp` only when present; a token without it would never expire.
      if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) return refuse('missing-exp');
      const issuedAt = typeof payload.iat === 'number' && Number.isFinite(payload.iat) ? payload.iat : now() / 1000;
      if (payload.exp - issuedAt > maxLifetime) return refuse('lifetime-too-long');

      const claimed = (payload as Record<string, unknown>)[clientClaim];
      const subject = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
      const client = typeof claimed === 'string' && claimed !== '' ? claimed : subject;
      const usage = await deps.bearerUsage?.(client);
      if (!usage) {
        deps.logger.error('no usage key available for bearer callers');
        throw new Error('usage key unavailable');
      }
      return allow(`jwt:${subject ?? 'unknown'}`, event.methodArn, usage.key, {
        authType: 'jwt',
        sub: subject ?? 'unknown',
        plan: usage.plan,
        keyId: keyId(usage.key),
      });
    }

    const reason = !header ? 'no credentials sent' : scheme === 'apikey' ? 'malformed api key' : 'unsupported credential scheme';
    deps.logger.info('request refused', { reason });
    throw new Unauthorized(reason);
  };
}
