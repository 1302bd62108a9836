import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { cachedSecretString } from '../../lambda/shared/secret-value.js';

const secrets = mockClient(SecretsManagerClient);

describe('cachedSecretString', () => {
  beforeEach(() => secrets.reset());

  it('reads once, serves from cache, and re-reads after maxAge', async () => {
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'key-one\n' }).resolves({ SecretString: 'key-two' });
    const client = new SecretsManagerClient({ region: 'eu-west-1' });
    const read = cachedSecretString('usage-key', { client, maxAgeMs: 50 });
    const [a, b] = await Promise.all([read(), read()]);
    expect([a, b]).toEqual(['key-one', 'key-one']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: 'usage-key' });
    await new Promise((r) => setTimeout(r, 60));
    expect(await read()).toBe('key-two');
  });

  it('answers undefined for an empty secret and propagates errors without caching them', async () => {
    secrets.on(GetSecretValueCommand).rejectsOnce(new Error('AccessDenied')).resolves({ SecretString: '  ' });
    const read = cachedSecretString('s', { client: new SecretsManagerClient({ region: 'eu-west-1' }) });
    await expect(read()).rejects.toThrow('AccessDenied');
    expect(await read()).toBeUndefined();
  });
});
