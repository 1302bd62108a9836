/** A real JWKS endpoint on 127.0.0.1 and a signer for test tokens (jose). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

export interface JwksServer {
  readonly issuer: string;
  readonly jwksUri: string;
  /**
   * Signs a token (RS256, kid test-key-1). `expiresIn: null` leaves `exp` out;
   * `issuedAt` (seconds) sets `iat`, `null` leaves it out.
   */
  sign(claims: Record<string, unknown>, options?: { expiresIn?: string | number | null; issuedAt?: number | null; audience?: string; issuer?: string; kid?: string }): Promise<string>;
  /** Answer 503 to JWKS requests (identity provider down) until set back to true. */
  setAvailable(available: boolean): void;
  readonly requests: () => number;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  let available = true;
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    if (!available) {
      res.writeHead(503).end();
      return;
    }
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    async sign(claims, options = {}) {
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'test-key-1' })
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? 'face-api');
      if (options.issuedAt !== null) jwt.setIssuedAt(options.issuedAt);
      if (options.expiresIn !== null) jwt.setExpirationTime(options.expiresIn ?? '15m');
      return jwt.sign(privateKey);
    },
    setAvailable(value) {
      available = value;
    },
    requests: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
