/**
 * Copies one blob (layer or config) from the vendor's ECR to the customer's ECR:
 * GetDownloadUrlForLayer -> streamed download -> InitiateLayerUpload ->
 * UploadLayerPart x n -> (digest check) -> CompleteLayerUpload. Nothing is
 * published when the bytes do not hash to the digest: CompleteLayerUpload is
 * never called, and ECR discards the unfinished upload.
 */
import type { Agent } from 'node:http';
import {
  CompleteLayerUploadCommand,
  GetDownloadUrlForLayerCommand,
  InitiateLayerUploadCommand,
  UploadLayerPartCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { downloadBlob } from './download.js';
import { awsErrorName, mapSourceError, mapTargetError, MirrorError, type SourceErrorContext, type TargetErrorContext } from './errors.js';
import { createInlineSha256, createWorkerSha256, type StreamingSha256 } from './hasher.js';
import { shortDigest, type BlobDescriptor } from './manifest.js';
import { PartPipeline } from './parts.js';
import type { MirrorLogger } from './types.js';

/**
 * Part size used only if InitiateLayerUpload names none (it always should).
 * ECR's quotas: parts of 5 to 10 MiB except the last, at most 4,200 parts per
 * layer (ECR service quotas page), so the fallback is the 10 MiB maximum.
 */
export const DEFAULT_PART_SIZE = 10 * 1024 * 1024;

/** Tuning knobs for blob copies (defaults suit Lambda). */
export interface BlobCopyTuning {
  /** @default 5 */
  readonly maxRetries?: number;
  /** @default 500 */
  readonly retryDelayMs?: number;
  /** @default 60000 */
  readonly idleTimeoutMs?: number;
  /**
   * Hash on a worker thread when a blob spans more than one part.
   * @default true when the process has more than one CPU
   */
  readonly hashInWorker?: boolean;
  /** Part buffers per blob. @default 2 */
  readonly bufferedParts?: number;
  /** Connection pool for downloads (tests, benchmarks). @default Node's global keep-alive agent */
  readonly agent?: Agent;
}

/** Everything {@link copyBlob} needs. */
export interface BlobCopyContext {
  readonly source: ECRClient;
  readonly target: ECRClient;
  readonly sourceRef: SourceErrorContext;
  readonly targetRef: TargetErrorContext;
  readonly log: MirrorLogger;
  readonly tuning?: BlobCopyTuning;
  /** Whether the machine has a spare core for hashing (resolved once by the caller). */
  readonly spareCpu?: boolean;
}

async function send<T>(fn: () => Promise<T>, mapError: (err: unknown) => MirrorError): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapError(err);
  }
}

/**
 * Copies one blob, streaming: at most `bufferedParts` parts are held in memory.
 * Progress is logged at each quarter of the blob.
 * @returns the number of bytes uploaded.
 * @throws MirrorError DIGEST_MISMATCH (nothing published), DOWNLOAD_FAILED, or a mapped AWS error.
 */
export async function copyBlob(ctx: BlobCopyContext, blob: BlobDescriptor): Promise<number> {
  const { source, target, sourceRef, targetRef, log } = ctx;
  const tuning = ctx.tuning ?? {};
  const layer = shortDigest(blob.digest);
  const toSource = (err: unknown): MirrorError => mapSourceError(err, sourceRef);
  const toTarget = (err: unknown): MirrorError => mapTargetError(err, targetRef);

  const initiated = await send(() => target.send(new InitiateLayerUploadCommand({ repositoryName: targetRef.repository })), toTarget);
  const uploadId = initiated.uploadId;
  if (!uploadId) throw new MirrorError('UPSTREAM_ERROR', 'InitiateLayerUpload returned no uploadId');
  const partSize = initiated.partSize && initiated.partSize > 0 ? initiated.partSize : DEFAULT_PART_SIZE;

  const useWorker = blob.size > partSize && (tuning.hashInWorker ?? ctx.spareCpu ?? false);
  const hash: StreamingSha256 = useWorker ? createWorkerSha256() : createInlineSha256();
  let nextQuarter = 1;
  const started = Date.now();
  const pipeline = new PartPipeline({
    partSize,
    hash,
    shared: useWorker,
    buffers: tuning.bufferedParts ?? 2,
    sink: (part, firstByte) =>
      send(
        () =>
          target.send(
            new UploadLayerPartCommand({
              repositoryName: targetRef.repository,
              uploadId,
              partFirstByte: firstByte,
              partLastByte: firstByte + part.byteLength - 1,
              layerPartBlob: part,
            }),
          ),
        toTarget,
      ).then(() => undefined),
    onPartUploaded: (done) => {
      if (blob.size > 0 && done * 4 >= nextQuarter * blob.size && done < blob.size) {
        nextQuarter = Math.floor((done * 4) / blob.size) + 1;
        log.info('layer progress', { layer, bytesDone: done, bytesTotal: blob.size, percent: Math.floor((done * 100) / blob.size) });
      }
    },
  });

  log.info('copying layer', { layer, bytesDone: 0, bytesTotal: blob.size, partSize });
  try {
    const chunks = downloadBlob({
      digest: blob.digest,
      size: blob.size,
      maxRetries: tuning.maxRetries,
      retryDelayMs: tuning.retryDelayMs,
      idleTimeoutMs: tuning.idleTimeoutMs,
      agent: tuning.agent,
      getUrl: async () => {
        const res = await send(
          () =>
            source.send(
              new GetDownloadUrlForLayerCommand({
                registryId: sourceRef.registryId,
                repositoryName: sourceRef.repository,
                layerDigest: blob.digest,
              }),
            ),
          toSource,
        );
        if (!res.downloadUrl) throw new MirrorError('UPSTREAM_ERROR', `GetDownloadUrlForLayer returned no URL for ${layer}`);
        return res.downloadUrl;
      },
      onRetry: ({ offset, attempt, reason }) =>
        log.warn('layer download interrupted; resuming', { layer, bytesDone: offset, bytesTotal: blob.size, attempt, reason }),
    });
    for await (const chunk of chunks) await pipeline.write(chunk);
    const bytes = await pipeline.end();
    const actual = await hash.digest();
    if (actual !== blob.digest || bytes !== blob.size) {
      throw new MirrorError(
        'DIGEST_MISMATCH',
        `blob ${layer} from the vendor registry hashed to ${shortDigest(actual)} (${bytes} bytes, expected ${blob.size}); nothing was published`,
      );
    }
    try {
      await target.send(new CompleteLayerUploadCommand({ repositoryName: targetRef.repository, uploadId, layerDigests: [blob.digest] }));
    } catch (err) {
      // Another run finished the same blob first: the registry has it, which is all we need.
      if (awsErrorName(err) !== 'LayerAlreadyExistsException') throw toTarget(err);
    }
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    log.info('layer copied', { layer, bytesDone: bytes, bytesTotal: blob.size, mibPerSecond: Math.round(bytes / 1048576 / seconds) });
    return bytes;
  } finally {
    await pipeline.settle();
    hash.close();
  }
}
