/**
 * One sync: mirror the vendor tag into the target repository, then (for
 * scheduled and on-demand runs) apply the rollout mode. Emits the run's
 * metrics and keeps the vendor client cache honest when the key is rejected.
 */
import { availableParallelism } from 'node:os';
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { BlobCopyTuning } from './copy-blob.js';
import type { MirrorConfig } from './config.js';
import type { VendorRegistryClientCache } from './credentials.js';
import { MirrorError } from './errors.js';
import { mirrorImage, type MirrorResult } from './mirror.js';
import { applyRollout, type RolloutOutcome } from './rollout.js';
import type { MirrorLogger, MirrorMetrics } from './types.js';

/** Long-lived collaborators (module scope in the handler). */
export interface SyncDependencies {
  /** ECR client for the customer's registry (default credentials, function region). */
  readonly target: ECRClient;
  readonly ecs: ECSClient;
  readonly vendorClients: VendorRegistryClientCache;
  /** The function's region (named in messages). */
  readonly targetRegion: string;
  readonly log: MirrorLogger;
  readonly metrics?: MirrorMetrics;
  readonly tuning?: BlobCopyTuning;
  /** Passed to the rollout (see RolloutOptions.beforeRollout). @default nothing */
  readonly beforeRollout?: (digest: string) => Promise<void>;
}

/** Per-run options. */
export interface SyncOptions {
  /** Apply ROLLOUT_MODE after the copy (false for CloudFormation events). */
  readonly rollout: boolean;
  /** Retry a rollout that was rolled back before. @default false */
  readonly force?: boolean;
  /** Epoch ms by which the run must stop starting new blobs. */
  readonly deadline?: number;
}

/** What a sync did: the handler's answer to scheduled and on-demand invocations. */
export interface SyncResult {
  /** sha256 of the manifest or index the tag points at. */
  readonly digest: string;
  /** `<targetRepositoryUri>@<digest>`. */
  readonly imageUri: string;
  readonly copied: number;
  readonly skipped: number;
  readonly bytesCopied: number;
  readonly rolledOut: boolean;
}

/** The full result, for callers that want more than the handler returns. */
export interface DetailedSyncResult extends SyncResult {
  readonly mirror: MirrorResult;
  readonly rolloutOutcome?: RolloutOutcome;
}

const spareCpu = availableParallelism() > 1;

/**
 * Runs one sync.
 * @throws MirrorError (also counted in the MirrorFailed metric and logged by code).
 */
export async function syncVendorImage(config: MirrorConfig, deps: SyncDependencies, options: SyncOptions): Promise<DetailedSyncResult> {
  const { log, metrics } = deps;
  try {
    const source = await deps.vendorClients.get();
    const mirror = await mirrorImage({
      source,
      target: deps.target,
      vendor: config.vendor,
      targetRepositoryName: config.targetRepositoryName,
      targetRegion: deps.targetRegion,
      log,
      metrics,
      deadline: options.deadline,
      tuning: deps.tuning,
      spareCpu,
    });
    let rolledOut = false;
    let rolloutOutcome: RolloutOutcome | undefined;
    if (options.rollout) {
      const rollout = await applyRollout({
        ecs: deps.ecs,
        mode: config.rolloutMode,
        service: config.ecs,
        imageUri: mirror.imageUri,
        digest: mirror.digest,
        previousDigest: mirror.previousDigest,
        log,
        force: options.force,
        ...(deps.beforeRollout ? { beforeRollout: deps.beforeRollout } : {}),
      });
      rolledOut = rollout.rolledOut;
      rolloutOutcome = rollout.outcome;
    }
    metrics?.addMetric('MirrorFailed', 'Count', 0);
    return {
      digest: mirror.digest,
      imageUri: mirror.imageUri,
      copied: mirror.copied,
      skipped: mirror.skipped,
      bytesCopied: mirror.bytesCopied,
      rolledOut,
      mirror,
      ...(rolloutOutcome ? { rolloutOutcome } : {}),
    };
  } catch (err) {
    metrics?.addMetric('MirrorFailed', 'Count', 1);
    if (err instanceof MirrorError) {
      // A rotated or revoked key: read the secret again on the next run.
      if (err.code === 'CREDENTIALS_REJECTED') deps.vendorClients.invalidate();
      log.error('image mirror failed', { code: err.code, reason: err.message, ...(err.awsErrorName ? { awsErrorName: err.awsErrorName } : {}) });
    } else {
      log.error('image mirror failed', { code: 'INTERNAL', errorName: (err as Error)?.name });
    }
    throw err;
  }
}
