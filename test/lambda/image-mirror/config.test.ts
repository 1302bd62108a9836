/** The environment contract with the CDK construct, and manifest parsing. */
import { describe, expect, it } from 'vitest';
import { loadMirrorConfig, parseVendorRegistry } from '../../../lambda/shared/image-mirror/config.js';
import { MirrorError } from '../../../lambda/shared/image-mirror/errors.js';
import { MEDIA_TYPES, parseManifest } from '../../../lambda/shared/image-mirror/manifest.js';

const ENV = {
  VENDOR_REGISTRY: '249265253269.dkr.ecr.eu-west-1.amazonaws.com',
  VENDOR_REPOSITORY: 'verifeye/face-verification-api',
  VENDOR_TAG: '1.4.0',
  VENDOR_CREDENTIALS_SECRET_ID: 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:vendor-ecr-AbCdEf',
  TARGET_REPOSITORY_NAME: 'face-verification/vendor-api',
};

function configError(env: Record<string, string | undefined>): MirrorError {
  try {
    loadMirrorConfig(env);
  } catch (err) {
    if (err instanceof MirrorError) return err;
  }
  throw new Error('expected a MirrorError');
}

describe('parseVendorRegistry', () => {
  it('splits an ECR registry host into account id and region', () => {
    expect(parseVendorRegistry('249265253269.dkr.ecr.eu-west-1.amazonaws.com')).toEqual({
      registryId: '249265253269',
      region: 'eu-west-1',
      host: '249265253269.dkr.ecr.eu-west-1.amazonaws.com',
    });
    expect(parseVendorRegistry('https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/').region).toBe('cn-north-1');
    expect(parseVendorRegistry('123456789012.dkr.ecr.us-gov-west-1.amazonaws.com').region).toBe('us-gov-west-1');
  });

  it('refuses anything that is not an ECR private registry host', () => {
    for (const bad of ['docker.io', '24926525326.dkr.ecr.eu-west-1.amazonaws.com', '249265253269.dkr.ecr.amazonaws.com', 'public.ecr.aws']) {
      expect(() => parseVendorRegistry(bad), bad).toThrow(/VENDOR_REGISTRY must look like <account>\.dkr\.ecr\.<region>\.amazonaws\.com/);
    }
  });
});

describe('loadMirrorConfig', () => {
  it('reads a pinned configuration; ROLLOUT_MODE defaults to pinned and ECS settings are optional', () => {
    expect(loadMirrorConfig(ENV)).toEqual({
      vendor: {
        registry: ENV.VENDOR_REGISTRY,
        registryId: '249265253269',
        region: 'eu-west-1',
        repository: ENV.VENDOR_REPOSITORY,
        tag: '1.4.0',
        credentialsSecretId: ENV.VENDOR_CREDENTIALS_SECRET_ID,
      },
      targetRepositoryName: ENV.TARGET_REPOSITORY_NAME,
      rolloutMode: 'pinned',
    });
  });

  it('reads a follow configuration with its ECS service', () => {
    const config = loadMirrorConfig({ ...ENV, ROLLOUT_MODE: 'follow', ECS_CLUSTER: 'face', ECS_SERVICE: 'face-api', CONTAINER_NAME: 'api' });
    expect(config.rolloutMode).toBe('follow');
    expect(config.ecs).toEqual({ cluster: 'face', service: 'face-api', containerName: 'api' });
  });

  it('lists every missing variable at once', () => {
    const err = configError({});
    expect(err.code).toBe('CONFIG_INVALID');
    for (const name of ['VENDOR_REGISTRY', 'VENDOR_REPOSITORY', 'VENDOR_TAG', 'VENDOR_CREDENTIALS_SECRET_ID', 'TARGET_REPOSITORY_NAME']) {
      expect(err.message).toContain(`${name} is required`);
    }
  });

  it('requires the ECS settings for follow, and refuses unknown modes, bad tags and bad repository names', () => {
    expect(configError({ ...ENV, ROLLOUT_MODE: 'follow' }).message).toMatch(/ECS_CLUSTER is required; ECS_SERVICE is required; CONTAINER_NAME is required/);
    expect(configError({ ...ENV, ROLLOUT_MODE: 'latest' }).message).toContain('ROLLOUT_MODE must be "pinned" or "follow", got "latest"');
    expect(configError({ ...ENV, VENDOR_TAG: 'has space' }).message).toContain('VENDOR_TAG "has space" is not a valid image tag');
    expect(configError({ ...ENV, TARGET_REPOSITORY_NAME: 'Upper/Case' }).message).toContain('TARGET_REPOSITORY_NAME "Upper/Case"');
  });
});

describe('parseManifest', () => {
  const d = (c: string): string => `sha256:${c.repeat(64)}`;

  it('lists the config blob first, then the layers, for Docker v2 and OCI image manifests', () => {
    for (const mediaType of [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest]) {
      const text = JSON.stringify({ schemaVersion: 2, mediaType, config: { digest: d('c'), size: 5 }, layers: [{ digest: d('1'), size: 10 }, { digest: d('2'), size: 20 }] });
      const parsed = parseManifest(text, mediaType);
      expect(parsed.kind).toBe('image');
      expect(parsed.kind === 'image' && parsed.blobs.map((b) => b.digest)).toEqual([d('c'), d('1'), d('2')]);
    }
  });

  it('lists index children with their platforms, falling back to the document media type', () => {
    const text = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifestList,
      manifests: [
        { digest: d('a'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { digest: d('b'), size: 1 },
      ],
    });
    const parsed = parseManifest(text);
    expect(parsed.kind === 'index' && parsed.children.map((c) => c.platform)).toEqual(['linux/arm64/v8', 'unknown']);
  });

  it('refuses schema 1, unknown media types and descriptors without a sha256 digest', () => {
    expect(() => parseManifest(JSON.stringify({ schemaVersion: 1, fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws')).toThrow(
      /Docker v2 and OCI manifests/,
    );
    expect(() => parseManifest(JSON.stringify({ schemaVersion: 2, config: { digest: 'md5:abc', size: 1 }, layers: [] }), MEDIA_TYPES.ociManifest)).toThrow(
      /without a sha256 digest/,
    );
    expect(() => parseManifest('{not json', MEDIA_TYPES.ociManifest)).toThrow(/not valid JSON/);
  });
});
