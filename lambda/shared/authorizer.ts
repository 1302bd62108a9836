/**
 * The REQUEST authorizer (identity source: the Authorization header).
 * - `ApiKey <key>`  -> Allow, usageIdentifierKey = key (API Gateway then checks the
 *   key against its usage plans and applies their throttle and quota).
 * - `Bearer <jwt>`  -> verified with aws-jwt-verify (issuer, audience, JWKS) -> Allow,
 *   usageIdentifierKey = the configured usage key for token callers.
 * - anything else   -> `Unauthorized` (API Gateway answers 401).
 * The header value is never logged; only a short hash identifies a key.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { JwtVerifier } from 'aws-jwt-verify';
import { FetchError, JwksNotAvailableInCacheError, JwtBaseError } from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { headerOf, type HandlerLogger } from './http.js';

/** API Gateway maps this exact message to 401; any other error becomes AUTHORIZER_FAILURE (we answer 503). */
export const UNAUTHORIZED = 'Unauthorized';

export interface JwtConfig {
  readonly issuer: string;
  readonly audience: readonly string[];
  /** @default `${issuer}/.well-known/jwks.json` */
  readonly jwksUri?: string;
}

export interface AuthorizerDeps {
  readonly jwt?: JwtConfig;
  /** The API key value Bearer callers are metered under (from Secrets Manager in AWS). */
  readonly jwtUsageKey?: () => Promise<string | undefined>;
  readonly logger: HandlerLogger;
  /** JWKS download timeout. @default 3000 */
  readonly jwksTimeoutMs?: number;
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
      const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || url.hostname.startsWith('127.');
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

  return async (event) => {
    const header = headerOf(event.headers as Record<string, string | undefined>, 'authorization')?.trim() ?? '';
    const space = header.indexOf(' ');
    const scheme = space > 0 ? header.slice(0, space).toLowerCase() : '';
    const credential = space > 0 ? header.slice(space + 1).trim() : '';

    if (scheme === 'apikey' && API_KEY_PATTERN.test(credential)) {
      const id = keyId(credential);
      return allow(`apikey:${id}`, event.methodArn, credential, { authType: 'apikey', keyId: id });
    }

    if (scheme === 'bearer' && JWT_PATTERN.test(credential)) {
      if (!verifier) {
        deps.logger.warn('bearer credential refused: no JWT issuer configured');
        throw new Error(UNAUTHORIZED);
      }
      let payload;
      try {
        payload = await verifier.verify(credential);
      } catch (error) {
        if (error instanceof FetchError || error instanceof JwksNotAvailableInCacheError) {
          deps.logger.error('JWKS unavailable', { errorName: (error as Error).name });
          throw new Error('JWKS unavailable');
        }
        deps.logger.info('bearer credential refused', { reason: error instanceof JwtBaseError ? error.name : 'invalid' });
        throw new Error(UNAUTHORIZED);
      }
      const usageKey = await deps.jwtUsageKey?.();
      if (!usageKey) {
        deps.logger.error('no usage key configured for bearer callers');
        throw new Error('usage key unavailable');
      }
      const subject = typeof payload.sub === 'string' ? payload.sub : 'unknown';
      return allow(`jwt:${subject}`, event.methodArn, usageKey, { authType: 'jwt', sub: subject, keyId: keyId(usageKey) });
    }

    deps.logger.info('request refused', { reason: header ? 'unsupported credential scheme' : 'no credentials sent' });
    throw new Error(UNAUTHORIZED);
  };
}
