/**
 * Image mirror Lambda: copies the vendor's container image into the customer's
 * ECR with ECR API calls only (see lambda/shared/image-mirror/).
 *
 * Events:
 * - CloudFormation custom resource via the CDK Provider framework (`onEvent`):
 *   Create/Update copy and answer `{ PhysicalResourceId: '<repo>@<digest>',
 *   Data: { ImageDigest, ImageUri } }`; Delete does nothing (images stay).
 *   Never rolls out: CloudFormation deploys the digest itself.
 * - EventBridge scheduled event, or `{ "action": "sync", "force"?: true }`:
 *   copy, apply ROLLOUT_MODE, answer `{ digest, copied, skipped, bytesCopied, rolledOut, imageUri }`.
 *
 * Environment: VENDOR_REGISTRY, VENDOR_REPOSITORY, VENDOR_TAG,
 * VENDOR_CREDENTIALS_SECRET_ID, TARGET_REPOSITORY_NAME, ROLLOUT_MODE,
 * ECS_CLUSTER, ECS_SERVICE, CONTAINER_NAME (see config.ts); with table-mode
 * compare also TABLE_IMAGE_DIGEST and COMPARE_MODE_SECRET_ID (follow gating).
 *
 * Table-mode compare (docs/score-table.md):
 * - The custom resource's `RequiredDigest` property is the digest the score table was
 *   calibrated on. A mirrored digest that differs fails the resource, so CloudFormation
 *   stops (and rolls back) before the ECS service, which depends on it, changes.
 * - A `follow` rollout of a digest other than the table's switches compare to forwarding
 *   BEFORE the service moves (not "check first, then roll out"): the table is exact only
 *   for the image it was measured on, and a passing sample against a new image is evidence,
 *   not proof. Checking first would also need a task of the new image running beside the
 *   service (RunTask, minutes of model loading) inside this 15-minute function. Forwarding
 *   is always exact; the operator recalibrates against the new image and switches back.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse, Context } from 'aws-lambda';
import { loadMirrorConfig } from './shared/image-mirror/config.js';
import { VendorRegistryClientCache } from './shared/image-mirror/credentials.js';
import { MirrorError } from './shared/image-mirror/errors.js';
import { syncVendorImage, type SyncResult } from './shared/image-mirror/sync.js';
import { compareModeFlag } from './shared/compare-mode.js';
import { staleTableMessage } from './shared/score-table.js';

const logger = new Logger({ serviceName: 'image-mirror' });
const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'FaceVerification', serviceName: 'image-mirror' });
// Target registry and ECS: the function's role and region. Throttling is retried with back-off.
const targetEcr = new ECRClient({ maxAttempts: 5 });
const ecs = new ECSClient({ maxAttempts: 5 });
const secrets = new SecretsManagerClient({});
// The vendor client depends on the secret: built on first use, then cached (see credentials.ts).
let vendorClients: { key: string; cache: VendorRegistryClientCache } | undefined;

// Stop starting blobs this long before Lambda's hard stop, leaving time to report.
const DEADLINE_MARGIN_MS = 30_000;

/** An on-demand sync (`npm run sync-image`). */
export interface SyncEvent {
  readonly action: 'sync';
  /** Roll out even an image that was rolled out and rolled back before. */
  readonly force?: boolean;
}

/** An EventBridge (rule or Scheduler) scheduled event. */
export interface ScheduledSyncEvent {
  readonly source: 'aws.events' | 'aws.scheduler';
  readonly 'detail-type'?: string;
}

/** Every event shape the handler accepts. */
export type ImageMirrorEvent = CdkCustomResourceEvent | ScheduledSyncEvent | SyncEvent;

/** What the event asks for. */
export type EventKind =
  | { readonly kind: 'custom-resource'; readonly requestType: 'Create' | 'Update' | 'Delete'; readonly physicalResourceId?: string }
  | { readonly kind: 'scheduled' }
  | { readonly kind: 'sync'; readonly force: boolean };

/**
 * Classifies an incoming event.
 * @throws MirrorError UNSUPPORTED_EVENT for anything else (its content is not echoed).
 */
export function classifyEvent(event: unknown): EventKind {
  const e = (event ?? {}) as Record<string, unknown>;
  if (e.RequestType === 'Create' || e.RequestType === 'Update' || e.RequestType === 'Delete') {
    return {
      kind: 'custom-resource',
      requestType: e.RequestType,
      ...(typeof e.PhysicalResourceId === 'string' ? { physicalResourceId: e.PhysicalResourceId } : {}),
    };
  }
  if (e.source === 'aws.events' || e.source === 'aws.scheduler') return { kind: 'scheduled' };
  if (e.action === 'sync') return { kind: 'sync', force: e.force === true };
  throw new MirrorError(
    'UNSUPPORTED_EVENT',
    'unsupported event: expected a CloudFormation custom resource event, an EventBridge scheduled event or {"action":"sync"}',
  );
}

/**
 * The follow gate: before a new digest reaches the service, compare stops answering from a
 * table calibrated on another image (see the file comment for why forwarding, not check-first).
 */
function compareGate(env: NodeJS.ProcessEnv): ((digest: string) => Promise<void>) | undefined {
  const secretId = env.COMPARE_MODE_SECRET_ID?.trim();
  if (!secretId) return undefined;
  const tableDigest = env.TABLE_IMAGE_DIGEST?.trim();
  return async (digest) => {
    if (digest === tableDigest) return;
    const reason = `follow rollout of ${digest}; the score table was calibrated on ${tableDigest ?? '(unknown)'}`;
    // A failure here stops the rollout: the service must not move while compare may still answer from the table.
    await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: compareModeFlag('forward', 'image-rollout', reason) }));
    logger.warn('compare switched to forwarding before the rollout (recalibrate, then npm run compare-mode -- --table)', { digest, tableDigest });
  };
}

function vendorClientCache(secretId: string, region: string): VendorRegistryClientCache {
  const key = `${region}|${secretId}`;
  if (vendorClients?.key !== key) vendorClients = { key, cache: new VendorRegistryClientCache({ secrets, secretId, region }) };
  return vendorClients.cache;
}

/** The custom resource's `RequiredDigest` (table-mode compare), if any. */
function requiredDigest(event: ImageMirrorEvent): string | undefined {
  const value = (event as { ResourceProperties?: Record<string, unknown> }).ResourceProperties?.RequiredDigest;
  return typeof value === 'string' && value ? value : undefined;
}

/** Lambda entry point; see the file comment for the event shapes and answers. */
export async function handler(event: ImageMirrorEvent, context?: Pick<Context, 'getRemainingTimeInMillis' | 'awsRequestId'>): Promise<CdkCustomResourceResponse | SyncResult> {
  if (context?.awsRequestId) logger.appendKeys({ requestId: context.awsRequestId });
  let kind: EventKind;
  try {
    kind = classifyEvent(event);
  } catch (err) {
    logger.error('image mirror failed', { code: (err as MirrorError).code, eventKeys: Object.keys(event ?? {}).slice(0, 10) });
    throw err;
  }
  if (kind.kind === 'custom-resource' && kind.requestType === 'Delete') {
    // Images stay: a rolled-back stack may still run them.
    return { PhysicalResourceId: kind.physicalResourceId ?? 'image-mirror' };
  }

  try {
    const config = loadMirrorConfig();
    const remaining = context?.getRemainingTimeInMillis?.();
    const result = await syncVendorImage(
      config,
      {
        target: targetEcr,
        ecs,
        vendorClients: vendorClientCache(config.vendor.credentialsSecretId, config.vendor.region),
        targetRegion: process.env.AWS_REGION ?? 'the function region',
        log: logger,
        metrics,
        ...(kind.kind !== 'custom-resource' && config.rolloutMode === 'follow' ? { beforeRollout: compareGate(process.env) } : {}),
      },
      {
        rollout: kind.kind !== 'custom-resource',
        force: kind.kind === 'sync' && kind.force,
        ...(remaining !== undefined ? { deadline: Date.now() + remaining - DEADLINE_MARGIN_MS } : {}),
      },
    );
    if (kind.kind === 'custom-resource') {
      const required = requiredDigest(event);
      if (required && required !== result.digest) {
        throw new MirrorError('SCORE_TABLE_STALE', `vendor tag ${config.vendor.tag} now points at ${result.digest}: ${staleTableMessage('compare.scoreTableFile', required, result.digest)}`);
      }
      return {
        PhysicalResourceId: `${config.targetRepositoryName}@${result.digest}`,
        Data: { ImageDigest: result.digest, ImageUri: result.imageUri },
      };
    }
    const { digest, copied, skipped, bytesCopied, rolledOut, imageUri } = result;
    return { digest, copied, skipped, bytesCopied, rolledOut, imageUri };
  } catch (err) {
    if (err instanceof MirrorError && (err.code === 'CONFIG_INVALID' || err.code === 'SCORE_TABLE_STALE')) {
      metrics.addMetric('MirrorFailed', 'Count', 1);
      logger.error('image mirror failed', { code: err.code, reason: err.message });
    }
    throw err;
  } finally {
    metrics.publishStoredMetrics();
  }
}
