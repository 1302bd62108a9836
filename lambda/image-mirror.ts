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
 * ECS_CLUSTER, ECS_SERVICE, CONTAINER_NAME (see config.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse, Context } from 'aws-lambda';
import { loadMirrorConfig } from './shared/image-mirror/config.js';
import { VendorRegistryClientCache } from './shared/image-mirror/credentials.js';
import { MirrorError } from './shared/image-mirror/errors.js';
import { syncVendorImage, type SyncResult } from './shared/image-mirror/sync.js';

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

function vendorClientCache(secretId: string, region: string): VendorRegistryClientCache {
  const key = `${region}|${secretId}`;
  if (vendorClients?.key !== key) vendorClients = { key, cache: new VendorRegistryClientCache({ secrets, secretId, region }) };
  return vendorClients.cache;
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
      },
      {
        rollout: kind.kind !== 'custom-resource',
        force: kind.kind === 'sync' && kind.force,
        ...(remaining !== undefined ? { deadline: Date.now() + remaining - DEADLINE_MARGIN_MS } : {}),
      },
    );
    if (kind.kind === 'custom-resource') {
      return {
        PhysicalResourceId: `${config.targetRepositoryName}@${result.digest}`,
        Data: { ImageDigest: result.digest, ImageUri: result.imageUri },
      };
    }
    const { digest, copied, skipped, bytesCopied, rolledOut, imageUri } = result;
    return { digest, copied, skipped, bytesCopied, rolledOut, imageUri };
  } catch (err) {
    if (err instanceof MirrorError && err.code === 'CONFIG_INVALID') {
      metrics.addMetric('MirrorFailed', 'Count', 1);
      logger.error('image mirror failed', { code: err.code, reason: err.message });
    }
    throw err;
  } finally {
    metrics.publishStoredMetrics();
  }
}
