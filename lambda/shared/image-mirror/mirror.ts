/**
 * Mirrors one tagged image (single-platform manifest or multi-platform index)
 * from the vendor's ECR into the customer's ECR using ECR API calls only, and
 * keeps its digest: manifests are put back byte for byte.
 *
 * Idempotent and resumable at blob granularity: manifests and blobs the target
 * already has are skipped, so a run cut short (Lambda's 15-minute limit) is
 * finished by the next one.
 */
import {
  BatchCheckLayerAvailabilityCommand,
  BatchGetImageCommand,
  DescribeRepositoriesCommand,
  PutImageCommand,
  type ECRClient,
  type ImageIdentifier,
} from '@aws-sdk/client-ecr';
import { copyBlob, type BlobCopyTuning } from './copy-blob.js';
import {
  awsErrorName,
  mapSourceError,
  mapTargetError,
  MirrorError,
  tagNotFound,
  type SourceErrorContext,
  type TargetErrorContext,
} from './errors.js';
import { ACCEPTED_MEDIA_TYPES, parseManifest, sha256Digest, shortDigest, type BlobDescriptor, type ParsedManifest } from './manifest.js';
import type { MirrorLogger, MirrorMetrics } from './types.js';

// BatchGetImage and BatchCheckLayerAvailability take at most 100 ids per call (ECR API reference).
const BATCH_LIMIT = 100;

/** Where to copy from and to, and what to report to. */
export interface MirrorImageOptions {
  /** ECR client for the vendor registry (vendor key pair, vendor region). */
  readonly source: ECRClient;
  /** ECR client for the customer's registry (function role, function region). */
  readonly target: ECRClient;
  readonly vendor: {
    readonly registryId: string;
    readonly region: string;
    readonly repository: string;
    readonly tag: string;
    /** Named in credentials errors. */
    readonly credentialsSecretId: string;
  };
  readonly targetRepositoryName: string;
  /** The target registry's region, named in error messages. */
  readonly targetRegion: string;
  readonly log: MirrorLogger;
  readonly metrics?: MirrorMetrics;
  /**
   * Epoch milliseconds after which no further blob is started if it would not
   * finish in time (the handler passes Lambda's remaining time less a margin).
   */
  readonly deadline?: number;
  readonly tuning?: BlobCopyTuning;
  /** Whether a worker thread may hash beside the download. */
  readonly spareCpu?: boolean;
}

/** What a mirror run did. */
export interface MirrorResult {
  /** sha256 of the manifest or index the tag points at (identical in source and target). */
  readonly digest: string;
  readonly mediaType: string;
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<repository>` of the target. */
  readonly repositoryUri: string;
  /** `<repositoryUri>@<digest>`: what a task definition should reference. */
  readonly imageUri: string;
  /** The digest the target tag pointed at before this run, if any. */
  readonly previousDigest?: string;
  /** Platforms copied (`linux/amd64`, ...); one entry for a single-platform image. */
  readonly platforms: readonly string[];
  /** Blobs (layers and configs) uploaded by this run. */
  readonly copied: number;
  /** Blobs the target already had. */
  readonly skipped: number;
  readonly bytesCopied: number;
  /** Manifests (children and the tagged one) put by this run. */
  readonly manifestsPut: number;
}

interface FetchedManifest {
  readonly digest: string;
  readonly text: string;
  readonly mediaType: string;
  readonly parsed: ParsedManifest;
  readonly platform: string;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Checks that the manifest text hashes to the digest ECR reported and parses it. */
function verifyManifest(text: string, reportedDigest: string | undefined, mediaType: string | undefined, platform: string): FetchedManifest {
  const digest = sha256Digest(text);
  if (reportedDigest && reportedDigest !== digest) {
    throw new MirrorError(
      'DIGEST_MISMATCH',
      `the vendor manifest ${shortDigest(reportedDigest)} does not hash to its digest (got ${shortDigest(digest)}); nothing was published`,
    );
  }
  const parsed = parseManifest(text, mediaType);
  return { digest, text, mediaType: parsed.mediaType, parsed, platform };
}

/**
 * Copies `vendor.tag` from the vendor registry into `targetRepositoryName`
 * under the same tag, keeping the manifest digest. For an index, every child
 * manifest is copied (by digest, untagged) before the index is tagged.
 * @returns what was copied, and the digest to deploy.
 * @throws MirrorError with a code naming the failure (see errors.ts).
 */
export async function mirrorImage(options: MirrorImageOptions): Promise<MirrorResult> {
  const { source, target, vendor, log } = options;
  const sourceRef: SourceErrorContext = {
    secretId: vendor.credentialsSecretId,
    region: vendor.region,
    registryId: vendor.registryId,
    repository: vendor.repository,
    tag: vendor.tag,
  };
  const targetRef: TargetErrorContext = { region: options.targetRegion, repository: options.targetRepositoryName, tag: vendor.tag };
  const fromSource = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw mapSourceError(err, sourceRef);
    }
  };
  const fromTarget = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw mapTargetError(err, targetRef);
    }
  };
  const repositoryName = options.targetRepositoryName;

  // 1. The target repository (also checks it exists before any download).
  const repos = await fromTarget(() => target.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName] })));
  const repositoryUri = repos.repositories?.[0]?.repositoryUri;
  if (!repositoryUri) throw mapTargetError({ name: 'RepositoryNotFoundException', $metadata: {} }, targetRef);

  // 2. The tagged manifest in the vendor registry.
  const tagged = await fromSource(() =>
    source.send(
      new BatchGetImageCommand({
        registryId: vendor.registryId,
        repositoryName: vendor.repository,
        imageIds: [{ imageTag: vendor.tag }],
        acceptedMediaTypes: ACCEPTED_MEDIA_TYPES,
      }),
    ),
  );
  const image = tagged.images?.[0];
  if (!image?.imageManifest) {
    const failure = tagged.failures?.[0];
    if (!failure || failure.failureCode === 'ImageNotFound' || failure.failureCode === 'ImageTagDoesNotMatchDigest') throw tagNotFound(sourceRef);
    throw new MirrorError('UPSTREAM_ERROR', `the vendor registry could not return tag ${vendor.tag}: ${failure.failureCode} (${failure.failureReason ?? 'no reason given'})`);
  }
  const top = verifyManifest(image.imageManifest, image.imageId?.imageDigest, image.imageManifestMediaType, 'index');

  // 3. Child manifests of an index: all of them, since the index is put back
  //    unchanged and ECR refuses an index whose children it lacks
  //    (ReferencedImagesNotFoundException).
  const children: FetchedManifest[] = [];
  if (top.parsed.kind === 'index') {
    const wanted = top.parsed.children;
    for (const batch of chunks(wanted, BATCH_LIMIT)) {
      const res = await fromSource(() =>
        source.send(
          new BatchGetImageCommand({
            registryId: vendor.registryId,
            repositoryName: vendor.repository,
            imageIds: batch.map((c) => ({ imageDigest: c.digest })),
            acceptedMediaTypes: ACCEPTED_MEDIA_TYPES,
          }),
        ),
      );
      for (const child of batch) {
        const found = res.images?.find((i) => i.imageId?.imageDigest === child.digest);
        if (!found?.imageManifest) {
          throw new MirrorError(
            'UPSTREAM_ERROR',
            `the vendor index ${shortDigest(top.digest)} lists manifest ${shortDigest(child.digest)} (${child.platform}) that the vendor registry does not return`,
          );
        }
        const fetched = verifyManifest(found.imageManifest, child.digest, found.imageManifestMediaType ?? child.mediaType, child.platform);
        if (fetched.parsed.kind !== 'image') {
          throw new MirrorError('UNSUPPORTED_MANIFEST', `the vendor index ${shortDigest(top.digest)} nests another index; nested indexes are not copied`);
        }
        children.push(fetched);
      }
    }
  }
  const imageManifests = top.parsed.kind === 'image' ? [top] : children;
  const platforms = top.parsed.kind === 'image' ? ['single-platform'] : children.map((c) => c.platform);
  log.info('vendor image resolved', {
    tag: vendor.tag,
    digest: top.digest,
    mediaType: top.mediaType,
    platforms,
  });

  // 4. What the target already has: the tag, and the manifests by digest.
  const targetTag = await fromTarget(() =>
    target.send(new BatchGetImageCommand({ repositoryName, imageIds: [{ imageTag: vendor.tag }], acceptedMediaTypes: ACCEPTED_MEDIA_TYPES })),
  );
  const previousDigest = targetTag.images?.[0]?.imageId?.imageDigest;
  const presentManifests = new Set<string>();
  if (previousDigest === top.digest) {
    // ECR accepted this manifest, so it holds every manifest and blob it references.
    presentManifests.add(top.digest);
    for (const c of children) presentManifests.add(c.digest);
  } else {
    const ids: ImageIdentifier[] = [top, ...children].map((m) => ({ imageDigest: m.digest }));
    for (const batch of chunks(ids, BATCH_LIMIT)) {
      const res = await fromTarget(() => target.send(new BatchGetImageCommand({ repositoryName, imageIds: batch, acceptedMediaTypes: ACCEPTED_MEDIA_TYPES })));
      for (const i of res.images ?? []) if (i.imageId?.imageDigest) presentManifests.add(i.imageId.imageDigest);
    }
  }

  // 5. Blobs: those of manifests the target has are there; check the rest.
  const allBlobs = new Map<string, BlobDescriptor>();
  const blobsToCheck = new Map<string, BlobDescriptor>();
  for (const m of imageManifests) {
    if (m.parsed.kind !== 'image') continue;
    for (const b of m.parsed.blobs) {
      allBlobs.set(b.digest, b);
      if (!presentManifests.has(m.digest)) blobsToCheck.set(b.digest, b);
    }
  }
  const available = new Set<string>([...allBlobs.keys()].filter((d) => !blobsToCheck.has(d)));
  for (const batch of chunks([...blobsToCheck.keys()], BATCH_LIMIT)) {
    const res = await fromTarget(() => target.send(new BatchCheckLayerAvailabilityCommand({ repositoryName, layerDigests: batch })));
    for (const l of res.layers ?? []) if (l.layerDigest && l.layerAvailability === 'AVAILABLE') available.add(l.layerDigest);
  }
  const missing = [...allBlobs.values()].filter((b) => !available.has(b.digest));
  const skipped = allBlobs.size - missing.length;
  let copied = 0;
  let bytesCopied = 0;
  let manifestsPut = 0;
  for (const b of allBlobs.values()) {
    if (available.has(b.digest)) log.info('layer already in target; skipped', { layer: shortDigest(b.digest), bytesDone: b.size, bytesTotal: b.size });
  }

  const started = Date.now();
  try {
    // 6. Copy the missing blobs, one at a time (memory stays at ~2 parts).
    for (const blob of missing) {
      // A blob that would not finish in time is left to the next run, which starts
      // with the full 15 minutes; the first blob of a run is always attempted so
      // that a run always makes progress.
      if (options.deadline !== undefined && copied > 0) {
        const bytesPerMs = Math.max(bytesCopied / Math.max(Date.now() - started, 1), 1024);
        if (Date.now() + blob.size / bytesPerMs > options.deadline) {
          throw new MirrorError(
            'TIME_LIMIT',
            `stopped before the Lambda time limit after copying ${copied} of ${missing.length} missing blobs; the next run continues from there`,
          );
        }
      }
      bytesCopied += await copyBlob(
        { source, target, sourceRef, targetRef, log, tuning: options.tuning, spareCpu: options.spareCpu },
        blob,
      );
      copied++;
    }

    // 7. Child manifests by digest (untagged), then the tagged manifest or index.
    const put = async (m: FetchedManifest, tag?: string): Promise<void> => {
      try {
        await target.send(
          new PutImageCommand({
            repositoryName,
            imageManifest: m.text,
            imageManifestMediaType: m.mediaType,
            imageDigest: m.digest,
            ...(tag ? { imageTag: tag } : {}),
          }),
        );
        manifestsPut++;
      } catch (err) {
        // Same manifest (and tag) already there: a concurrent or earlier run did it.
        if (awsErrorName(err) !== 'ImageAlreadyExistsException') throw mapTargetError(err, targetRef);
      }
    };
    for (const child of children) if (!presentManifests.has(child.digest)) await put(child);
    if (previousDigest !== top.digest) await put(top, vendor.tag);
  } finally {
    options.metrics?.addMetric('BytesCopied', 'Bytes', bytesCopied);
    options.metrics?.addMetric('LayersCopied', 'Count', copied);
    options.metrics?.addMetric('LayersSkipped', 'Count', skipped);
  }

  const imageUri = `${repositoryUri}@${top.digest}`;
  log.info(previousDigest === top.digest ? 'target already up to date' : 'image mirrored', {
    digest: top.digest,
    previousDigest,
    copied,
    skipped,
    bytesCopied,
    manifestsPut,
  });
  return {
    digest: top.digest,
    mediaType: top.mediaType,
    repositoryUri,
    imageUri,
    ...(previousDigest ? { previousDigest } : {}),
    platforms,
    copied,
    skipped,
    bytesCopied,
    manifestsPut,
  };
}
