/**
 * The vendor's IAM key pair, read from Secrets Manager, and the ECR client for
 * the vendor registry built from it. The secret's value stays inside this
 * module: it is never logged, never put in an error message, never returned.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mapSecretError, MirrorError } from './errors.js';

/** The key pair the vendor hands each customer; it may only pull the vendor repository. */
export interface VendorKeyPair {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * Reads `{"accessKeyId":"...","secretAccessKey":"..."}` from a secret.
 * @throws MirrorError SECRET_NOT_FOUND, SECRET_ACCESS_DENIED or SECRET_MALFORMED;
 *   messages name the secret and the missing fields, never the value.
 */
export async function readVendorKeyPair(secrets: SecretsManagerClient, secretId: string): Promise<VendorKeyPair> {
  let text: string | undefined;
  try {
    const res = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    text = res.SecretString ?? (res.SecretBinary ? Buffer.from(res.SecretBinary).toString('utf8') : undefined);
  } catch (err) {
    throw mapSecretError(err, secretId);
  }
  const malformed = (why: string): MirrorError =>
    new MirrorError(
      'SECRET_MALFORMED',
      `vendor credentials secret ${secretId} is malformed: ${why}; expected JSON {"accessKeyId":"...","secretAccessKey":"..."}`,
    );
  if (text === undefined || text.trim() === '') throw malformed('it has no value');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the text: it must not reach the error.
    throw malformed('it is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed('it is not a JSON object');
  const { accessKeyId, secretAccessKey } = doc as Record<string, unknown>;
  const missing = [
    typeof accessKeyId === 'string' && accessKeyId.trim() !== '' ? undefined : 'accessKeyId',
    typeof secretAccessKey === 'string' && secretAccessKey.trim() !== '' ? undefined : 'secretAccessKey',
  ].filter((f): f is string => f !== undefined);
  if (missing.length > 0) throw malformed(`field ${missing.join(' and ')} is missing or not a non-empty string`);
  return { accessKeyId: (accessKeyId as string).trim(), secretAccessKey: (secretAccessKey as string).trim() };
}

/** Options for {@link VendorRegistryClientCache}. */
export interface VendorRegistryClientOptions {
  readonly secrets: SecretsManagerClient;
  readonly secretId: string;
  /** The vendor registry's region. */
  readonly region: string;
  /**
   * How long a client built from the secret is reused before the secret is read
   * again (picks up a rotated key in a long-lived Lambda environment).
   * @default 900000 (15 minutes)
   */
  readonly ttlMs?: number;
  /** Builds the client (tests); `new ECRClient(...)` by default. */
  readonly createClient?: (region: string, keyPair: VendorKeyPair) => ECRClient;
}

/** Builds the vendor-registry ECR client with the vendor's key pair as static credentials. */
export function createVendorEcrClient(region: string, keyPair: VendorKeyPair): ECRClient {
  return new ECRClient({
    region,
    credentials: { accessKeyId: keyPair.accessKeyId, secretAccessKey: keyPair.secretAccessKey },
    // Throttling is retried with back-off; the vendor registry is another account's quota.
    maxAttempts: 5,
  });
}

/**
 * Caches the vendor-registry client across invocations of a warm Lambda
 * environment: the secret is read on first use, again after `ttlMs`, and again
 * after {@link invalidate} (called when ECR rejects the key pair).
 */
export class VendorRegistryClientCache {
  private cached: { client: ECRClient; expiresAt: number } | undefined;
  private pending: Promise<ECRClient> | undefined;

  constructor(private readonly options: VendorRegistryClientOptions) {}

  /** The vendor-registry client, reading the secret if needed. */
  async get(now = Date.now()): Promise<ECRClient> {
    if (this.cached && this.cached.expiresAt > now) return this.cached.client;
    this.pending ??= (async () => {
      try {
        const keyPair = await readVendorKeyPair(this.options.secrets, this.options.secretId);
        const client = (this.options.createClient ?? createVendorEcrClient)(this.options.region, keyPair);
        this.cached?.client.destroy();
        this.cached = { client, expiresAt: Date.now() + (this.options.ttlMs ?? 15 * 60_000) };
        return client;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /** Forgets the client so the next {@link get} reads the secret again. */
  invalidate(): void {
    this.cached?.client.destroy();
    this.cached = undefined;
  }
}
