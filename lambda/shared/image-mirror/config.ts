/**
 * The image mirror's configuration, read from the environment variables the
 * CDK construct sets (the contract between the construct and the function).
 */
import { MirrorError } from './errors.js';

/** How a new vendor digest reaches the ECS service. */
export type RolloutMode = 'pinned' | 'follow';

/** Where the vendor's image lives, parsed from `VENDOR_REGISTRY` and friends. */
export interface VendorImageConfig {
  /** Registry host, e.g. `249265253269.dkr.ecr.eu-west-1.amazonaws.com`. */
  readonly registry: string;
  /** The vendor's AWS account id (the registry id), parsed from the host. */
  readonly registryId: string;
  /** The vendor registry's region, parsed from the host. */
  readonly region: string;
  readonly repository: string;
  readonly tag: string;
  /** Secrets Manager secret (name or ARN) holding `{"accessKeyId","secretAccessKey"}`. */
  readonly credentialsSecretId: string;
}

/** The ECS service a `follow` rollout updates (also used by `pinned` to compare digests). */
export interface EcsTargetConfig {
  readonly cluster: string;
  readonly service: string;
  readonly containerName: string;
}

/** Everything a mirror run needs to know. */
export interface MirrorConfig {
  readonly vendor: VendorImageConfig;
  /** The repository in the function's own account and region. */
  readonly targetRepositoryName: string;
  readonly rolloutMode: RolloutMode;
  /** Required for `follow`; optional for `pinned` (then used only to say whether a deploy is due). */
  readonly ecs?: EcsTargetConfig;
}

// ECR private registry host: <12-digit account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
const REGISTRY_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/;
// ECR repository name rule (CreateRepository API reference): lower-case components separated by / . _ -
const REPOSITORY_NAME = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
// OCI distribution spec tag rule: up to 128 characters.
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * Splits an ECR registry host into account id and region.
 * @throws MirrorError CONFIG_INVALID when the host is not an ECR private registry.
 */
export function parseVendorRegistry(registry: string): { registryId: string; region: string; host: string } {
  const host = registry.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const m = REGISTRY_HOST.exec(host);
  if (!m) {
    throw new MirrorError(
      'CONFIG_INVALID',
      `VENDOR_REGISTRY must look like <account>.dkr.ecr.<region>.amazonaws.com, got "${registry}"`,
    );
  }
  return { registryId: m[1]!, region: m[2]!, host };
}

/**
 * Reads and validates the mirror configuration from environment variables:
 * `VENDOR_REGISTRY`, `VENDOR_REPOSITORY`, `VENDOR_TAG`, `VENDOR_CREDENTIALS_SECRET_ID`,
 * `TARGET_REPOSITORY_NAME`, `ROLLOUT_MODE` (`pinned`|`follow`, default `pinned`),
 * and `ECS_CLUSTER`, `ECS_SERVICE`, `CONTAINER_NAME` (required for `follow`).
 * @throws MirrorError CONFIG_INVALID listing every problem at once.
 */
export function loadMirrorConfig(env: Readonly<Record<string, string | undefined>> = process.env): MirrorConfig {
  const problems: string[] = [];
  const get = (name: string, required = true): string => {
    const value = env[name]?.trim() ?? '';
    if (required && value === '') problems.push(`${name} is required`);
    return value;
  };

  const registry = get('VENDOR_REGISTRY');
  let registryId = '';
  let region = '';
  if (registry) {
    try {
      ({ registryId, region } = parseVendorRegistry(registry));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  const repository = get('VENDOR_REPOSITORY');
  if (repository && !REPOSITORY_NAME.test(repository)) problems.push(`VENDOR_REPOSITORY "${repository}" is not a valid ECR repository name`);
  const tag = get('VENDOR_TAG');
  if (tag && !TAG.test(tag)) problems.push(`VENDOR_TAG "${tag}" is not a valid image tag`);
  const credentialsSecretId = get('VENDOR_CREDENTIALS_SECRET_ID');
  const targetRepositoryName = get('TARGET_REPOSITORY_NAME');
  if (targetRepositoryName && !REPOSITORY_NAME.test(targetRepositoryName)) {
    problems.push(`TARGET_REPOSITORY_NAME "${targetRepositoryName}" is not a valid ECR repository name`);
  }
  const mode = get('ROLLOUT_MODE', false) || 'pinned';
  if (mode !== 'pinned' && mode !== 'follow') problems.push(`ROLLOUT_MODE must be "pinned" or "follow", got "${mode}"`);

  const cluster = get('ECS_CLUSTER', mode === 'follow');
  const service = get('ECS_SERVICE', mode === 'follow');
  const containerName = get('CONTAINER_NAME', mode === 'follow');

  if (problems.length > 0) {
    throw new MirrorError('CONFIG_INVALID', `image mirror configuration is invalid: ${problems.join('; ')}`);
  }
  return {
    vendor: { registry: registry.trim(), registryId, region, repository, tag, credentialsSecretId },
    targetRepositoryName,
    rolloutMode: mode as RolloutMode,
    ...(cluster && service && containerName ? { ecs: { cluster, service, containerName } } : {}),
  };
}
