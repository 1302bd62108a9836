/**
 * A Secrets Manager string read on first use and cached for a while. The SDK is
 * imported lazily (dynamic import of the runtime-provided client), so a function
 * that never needs the secret does not pay the client's ~70 ms import at cold start.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export function cachedSecretString(secretId: string, options: { maxAgeMs?: number; client?: SecretsManagerClient } = {}): () => Promise<string | undefined> {
  const maxAgeMs = options.maxAgeMs ?? 300_000;
  let client = options.client;
  let cached: { value: string | undefined; at: number } | undefined;
  let pending: Promise<string | undefined> | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < maxAgeMs) return cached.value;
    pending ??= (async () => {
      try {
        const { GetSecretValueCommand, SecretsManagerClient: Client } = await import('@aws-sdk/client-secrets-manager');
        client ??= new Client({});
        const output = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
        cached = { value: output.SecretString?.trim() || undefined, at: Date.now() };
        return cached.value;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
}
