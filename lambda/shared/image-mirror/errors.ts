/**
 * Errors the image mirror can end with, each with a stable `code` and a message
 * an operator can act on. Messages name secrets, repositories, tags and regions,
 * never a secret's value, a key, a pre-signed URL or the raw AWS error text of a
 * credentials failure (the AWS text can quote the caller's identity).
 */
import { ApiError, type ProblemKind } from '../problem.js';

/** Every way a mirror run can fail, as a stable machine-readable code. */
export const MIRROR_ERROR_CODES = {
  CONFIG_INVALID: 'internal-error',
  UNSUPPORTED_EVENT: 'validation-error',
  SECRET_NOT_FOUND: 'internal-error',
  SECRET_ACCESS_DENIED: 'internal-error',
  SECRET_MALFORMED: 'internal-error',
  CREDENTIALS_REJECTED: 'internal-error',
  TARGET_ACCESS_DENIED: 'internal-error',
  REGION_INVALID: 'internal-error',
  REPOSITORY_NOT_FOUND: 'bad-gateway',
  TAG_NOT_FOUND: 'bad-gateway',
  UNSUPPORTED_MANIFEST: 'bad-gateway',
  DIGEST_MISMATCH: 'bad-gateway',
  DOWNLOAD_FAILED: 'bad-gateway',
  TAG_IMMUTABLE: 'internal-error',
  QUOTA_EXCEEDED: 'service-unavailable',
  THROTTLED: 'service-unavailable',
  TIME_LIMIT: 'gateway-timeout',
  ECS_SERVICE_NOT_FOUND: 'internal-error',
  ROLLOUT_FAILED: 'internal-error',
  UPSTREAM_ERROR: 'bad-gateway',
  NO_CREDENTIALS: 'internal-error',
  /** The vendor tag points at another image than the compare score table was calibrated on. */
  SCORE_TABLE_STALE: 'internal-error',
} as const satisfies Record<string, ProblemKind>;

export type MirrorErrorCode = keyof typeof MIRROR_ERROR_CODES;

/**
 * A mirror failure. Extends the shared {@link ApiError} so that anything that
 * surfaces it over HTTP answers with a problem document; `code` is what logs,
 * metrics and the CloudFormation console show.
 */
export class MirrorError extends ApiError {
  readonly code: MirrorErrorCode;
  /** The AWS exception name behind this error, when there is one (never its message). */
  readonly awsErrorName?: string;

  constructor(code: MirrorErrorCode, message: string, options: { cause?: unknown; awsErrorName?: string } = {}) {
    super(MIRROR_ERROR_CODES[code], message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'MirrorError';
    this.code = code;
    if (options.awsErrorName) this.awsErrorName = options.awsErrorName;
  }
}

/** The AWS exception name of an SDK error (`err.name`), or undefined for non-AWS errors. */
export function awsErrorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, $metadata } = err as { name?: unknown; $metadata?: unknown };
  return typeof name === 'string' && $metadata !== undefined ? name : undefined;
}

/** The Node system error code (ENOTFOUND, ECONNRESET, ...) of an error or its cause. */
export function systemErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

const CREDENTIAL_ERRORS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredTokenException',
]);
const THROTTLING_ERRORS = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
]);

/** Maps errors that read the same on every side (throttling, quotas, DNS). */
function mapCommon(err: unknown, name: string | undefined, where: string, region: string): MirrorError | undefined {
  if (err instanceof MirrorError) return err;
  // The SDK found no credentials at all and sent nothing: a client-side error without $metadata
  // (so `name` is undefined here). In Lambda the credentials come from the execution role.
  if ((err as { name?: unknown } | null)?.name === 'CredentialsProviderError') {
    return new MirrorError('NO_CREDENTIALS', `${where}: the function has no AWS credentials (CredentialsProviderError); in Lambda they come from its execution role`, {});
  }
  if (name && THROTTLING_ERRORS.has(name)) {
    return new MirrorError('THROTTLED', `${where} throttled the mirror (${name}) after the SDK's retries; the next run continues`, {
      awsErrorName: name,
    });
  }
  if (name === 'LimitExceededException' || name === 'LayerPartTooSmallException' || name === 'ServiceQuotaExceededException') {
    return new MirrorError('QUOTA_EXCEEDED', `${where} refused the request with ${name}: an ECR service quota was exceeded (see the ECR service quotas page)`, {
      awsErrorName: name,
    });
  }
  const sys = systemErrorCode(err);
  if (sys === 'ENOTFOUND' || sys === 'EAI_AGAIN') {
    return new MirrorError('REGION_INVALID', `${where}: the ECR endpoint for region ${region} could not be resolved (${sys}); check the region`, {});
  }
  return undefined;
}

/** Context naming the vendor side of a run, for error messages. */
export interface SourceErrorContext {
  readonly secretId: string;
  readonly region: string;
  readonly registryId: string;
  readonly repository: string;
  readonly tag?: string;
}

/**
 * Turns an error from the vendor registry into a {@link MirrorError}.
 * Credentials failures deliberately drop the AWS message and cause: some quote
 * the caller's identity, and none may ever carry the key.
 */
export function mapSourceError(err: unknown, ctx: SourceErrorContext): MirrorError {
  const name = awsErrorName(err);
  const where = `the vendor registry ${ctx.registryId} in ${ctx.region}`;
  if (name && CREDENTIAL_ERRORS.has(name)) {
    return new MirrorError(
      'CREDENTIALS_REJECTED',
      `the vendor key pair in secret ${ctx.secretId} was rejected by ECR in ${ctx.region} (${name}); ` +
        `check the key pair, that VENDOR_REGISTRY names the vendor's region and that VENDOR_REPOSITORY is the repository the key may pull`,
      { awsErrorName: name },
    );
  }
  if (name === 'RepositoryNotFoundException') {
    return new MirrorError(
      'REPOSITORY_NOT_FOUND',
      `repository ${ctx.repository} was not found in ${where}; check VENDOR_REPOSITORY and the region in VENDOR_REGISTRY`,
      { awsErrorName: name },
    );
  }
  if (name === 'ImageNotFoundException') {
    return tagNotFound(ctx);
  }
  const common = mapCommon(err, name, where, ctx.region);
  if (common) return common;
  return new MirrorError('UPSTREAM_ERROR', `${where} answered ${name ?? 'with an error'}`, {
    awsErrorName: name,
    cause: err,
  });
}

/** The error for a tag the vendor repository does not have. */
export function tagNotFound(ctx: SourceErrorContext): MirrorError {
  return new MirrorError(
    'TAG_NOT_FOUND',
    `tag ${ctx.tag ?? '(none)'} was not found in ${ctx.registryId}.dkr.ecr.${ctx.region}.amazonaws.com/${ctx.repository}; check VENDOR_TAG`,
    { awsErrorName: 'ImageNotFoundException' },
  );
}

/** Context naming the customer's side of a run, for error messages. */
export interface TargetErrorContext {
  readonly region: string;
  readonly repository: string;
  readonly tag?: string;
}

/** Turns an error from the customer's own registry into a {@link MirrorError}. */
export function mapTargetError(err: unknown, ctx: TargetErrorContext): MirrorError {
  const name = awsErrorName(err);
  const where = `the target registry in ${ctx.region}`;
  if (name === 'RepositoryNotFoundException') {
    return new MirrorError(
      'REPOSITORY_NOT_FOUND',
      `target repository ${ctx.repository} was not found in ${ctx.region}; check TARGET_REPOSITORY_NAME`,
      { awsErrorName: name },
    );
  }
  if (name === 'ImageTagAlreadyExistsException') {
    return new MirrorError(
      'TAG_IMMUTABLE',
      `target repository ${ctx.repository} has immutable tags and tag ${ctx.tag ?? ''} already points at another digest`,
      { awsErrorName: name },
    );
  }
  if (name && CREDENTIAL_ERRORS.has(name)) {
    return new MirrorError(
      'TARGET_ACCESS_DENIED',
      `the function's role was denied an ECR call on target repository ${ctx.repository} in ${ctx.region} (${name})`,
      { awsErrorName: name },
    );
  }
  const common = mapCommon(err, name, where, ctx.region);
  if (common) return common;
  return new MirrorError('UPSTREAM_ERROR', `${where} answered ${name ?? 'with an error'}`, { awsErrorName: name, cause: err });
}

/** Turns an error from Secrets Manager into a {@link MirrorError}; never includes the value. */
export function mapSecretError(err: unknown, secretId: string): MirrorError {
  const name = awsErrorName(err);
  if (name === 'ResourceNotFoundException') {
    return new MirrorError('SECRET_NOT_FOUND', `vendor credentials secret ${secretId} not found`, { awsErrorName: name });
  }
  if (name === 'AccessDeniedException' || name === 'DecryptionFailure' || name === 'KMSAccessDeniedException') {
    return new MirrorError(
      'SECRET_ACCESS_DENIED',
      `the function may not read vendor credentials secret ${secretId} (${name}); grant secretsmanager:GetSecretValue (and kms:Decrypt for a customer-managed key)`,
      { awsErrorName: name },
    );
  }
  if (name === 'InvalidRequestException') {
    return new MirrorError('SECRET_NOT_FOUND', `vendor credentials secret ${secretId} cannot be read (${name}: it may be scheduled for deletion)`, {
      awsErrorName: name,
    });
  }
  const common = mapCommon(err, name, 'Secrets Manager', process.env.AWS_REGION ?? 'the function region');
  if (common) return common;
  return new MirrorError('UPSTREAM_ERROR', `Secrets Manager answered ${name ?? 'with an error'} for secret ${secretId}`, { awsErrorName: name });
}

/** Turns an error from ECS into a {@link MirrorError}. */
export function mapEcsError(err: unknown, ctx: { cluster: string; service: string }): MirrorError {
  const name = awsErrorName(err);
  if (name === 'ClusterNotFoundException' || name === 'ServiceNotFoundException' || name === 'ServiceNotActiveException') {
    return new MirrorError('ECS_SERVICE_NOT_FOUND', `ECS service ${ctx.service} in cluster ${ctx.cluster} not found (${name}); check ECS_CLUSTER and ECS_SERVICE`, {
      awsErrorName: name,
    });
  }
  const common = mapCommon(err, name, 'ECS', process.env.AWS_REGION ?? 'the function region');
  if (common) return common;
  return new MirrorError('ROLLOUT_FAILED', `rolling out the new image to ECS service ${ctx.service} failed (${name ?? 'error'})`, {
    awsErrorName: name,
    cause: err,
  });
}
