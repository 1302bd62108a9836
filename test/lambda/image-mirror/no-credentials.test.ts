/**
 * Found by the bundle start-up test (issue 15): without credentials the SDK throws a
 * client-side CredentialsProviderError (no $metadata), which the mirror reported as
 * "Secrets Manager answered with an error" although nothing was sent. It now says so.
 */
import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { mapSecretError, mapSourceError, mapTargetError, MirrorError } from '../../../lambda/shared/image-mirror/errors.js';

/** What the SDK's default chain throws when no provider has credentials (the name is what the SDK sets). */
const noCredentials = () => Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError', tryNextLink: false });

describe('image mirror without AWS credentials', () => {
  it('GIVEN a real SDK client whose credential provider finds nothing THEN the error is NO_CREDENTIALS and names the role', async () => {
    // The endpoint is a closed loopback port: the request is never sent anyway, the credentials fail first.
    const client = new SecretsManagerClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', credentials: () => Promise.reject(noCredentials()), maxAttempts: 1 });
    const thrown = await client.send(new GetSecretValueCommand({ SecretId: 'vendor-pull' })).catch((err: unknown) => err);
    client.destroy();
    expect((thrown as Error).name).toBe('CredentialsProviderError');
    const mapped = mapSecretError(thrown, 'vendor-pull');
    expect(mapped).toBeInstanceOf(MirrorError);
    expect(mapped.code).toBe('NO_CREDENTIALS');
    expect(mapped.message).toBe('Secrets Manager: the function has no AWS credentials (CredentialsProviderError); in Lambda they come from its execution role');
  });

  it('THEN the target and vendor sides say the same', () => {
    expect(mapTargetError(noCredentials(), { region: 'eu-west-1', repository: 'face/vendor' }).code).toBe('NO_CREDENTIALS');
    expect(mapSourceError(noCredentials(), { secretId: 's', region: 'us-east-1', registryId: '123456789012', repository: 'vendor/api' }).code).toBe('NO_CREDENTIALS');
  });
});
