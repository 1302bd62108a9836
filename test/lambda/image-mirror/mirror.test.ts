/**
 * The mirror end to end: real mirror code, a real blob server on 127.0.0.1 for
 * the pre-signed URLs, and only the AWS APIs mocked (aws-sdk-client-mock,
 * behind an in-memory fake of the vendor's and the customer's registries).
 */
import { randomBytes } from 'node:crypto';
import {
  CompleteLayerUploadCommand,
  ECRClient,
  GetDownloadUrlForLayerCommand,
  InitiateLayerUploadCommand,
  ImageTagAlreadyExistsException,
  LimitExceededException,
  PutImageCommand,
  UploadLayerPartCommand,
  BatchGetImageCommand,
} from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MirrorConfig } from '../../../lambda/shared/image-mirror/config.js';
import { createVendorEcrClient, VendorRegistryClientCache } from '../../../lambda/shared/image-mirror/credentials.js';
import { MirrorError } from '../../../lambda/shared/image-mirror/errors.js';
import { MEDIA_TYPES, sha256Digest, shortDigest } from '../../../lambda/shared/image-mirror/manifest.js';
import { mirrorImage, type MirrorImageOptions } from '../../../lambda/shared/image-mirror/mirror.js';
import { syncVendorImage } from '../../../lambda/shared/image-mirror/sync.js';
import type { MirrorLogger, MirrorMetrics } from '../../../lambda/shared/image-mirror/types.js';
import { awsError, dockerManifest, FakeEcr, startBlobServer, type BlobServer } from '../../../scripts/bench/mirror.js';

const PART = 64 * 1024;
const ecrMock = mockClient(ECRClient);
const secretsMock = mockClient(SecretsManagerClient);

interface LogRecord {
  level: string;
  message: string;
  attributes: Record<string, unknown>;
}

function recorder(): { log: MirrorLogger; records: LogRecord[]; metrics: MirrorMetrics; metricValues: Map<string, number> } {
  const records: LogRecord[] = [];
  const at = (level: string) => (message: string, ...attrs: Array<Record<string, unknown>>) =>
    void records.push({ level, message, attributes: Object.assign({}, ...attrs) });
  const metricValues = new Map<string, number>();
  return {
    records,
    log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    metricValues,
    metrics: { addMetric: (name, _unit, value) => void metricValues.set(name, (metricValues.get(name) ?? 0) + value) },
  };
}

let server: BlobServer;
let fake: FakeEcr;

beforeAll(async () => {
  server = await startBlobServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  ecrMock.reset();
  secretsMock.reset();
  server.requests.length = 0;
  fake = new FakeEcr(server, { partSize: PART });
  fake.install(ecrMock);
});

/** A config blob and layers of the given sizes, in the vendor registry, tagged. */
function addImage(tag: string, layerSizes: number[]): { manifest: string; digest: string; blobs: Map<string, Buffer> } {
  const blobs = new Map<string, Buffer>();
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const cfg = fake.addSourceBlob(config);
  blobs.set(cfg.digest, config);
  const layers = layerSizes.map((size) => {
    const bytes = randomBytes(size);
    const l = fake.addSourceBlob(bytes);
    blobs.set(l.digest, bytes);
    return l;
  });
  const manifest = dockerManifest(cfg, layers);
  const digest = fake.addSourceManifest(manifest, MEDIA_TYPES.dockerManifest, tag);
  return { manifest, digest, blobs };
}

function options(overrides: Partial<MirrorImageOptions> = {}): MirrorImageOptions {
  const o = fake.options;
  return {
    source: createVendorEcrClient(o.sourceRegion, o.keyPair),
    target: new ECRClient({ region: o.targetRegion, credentials: { accessKeyId: 'role', secretAccessKey: 'role' } }),
    vendor: { registryId: o.sourceRegistryId, region: o.sourceRegion, repository: o.sourceRepository, tag: '1.4.0', credentialsSecretId: 'vendor/ecr-pull' },
    targetRepositoryName: o.targetRepository,
    targetRegion: o.targetRegion,
    log: recorder().log,
    tuning: { retryDelayMs: 1 },
    spareCpu: true,
    ...overrides,
  };
}

function uploadedPartSizes(): Map<string, number[]> {
  const byUpload = new Map<string, number[]>();
  for (const call of ecrMock.commandCalls(UploadLayerPartCommand)) {
    const input = call.args[0].input;
    const sizes = byUpload.get(input.uploadId!) ?? [];
    sizes.push(input.layerPartBlob!.byteLength);
    byUpload.set(input.uploadId!, sizes);
  }
  return byUpload;
}

describe('GIVEN a single-platform image with a layer spanning several parts', () => {
  it('WHEN mirrored THEN every part but the last is exactly partSize, parts reassemble to each blob, and the manifest bytes are unchanged', async () => {
    // 4 parts + 10 bytes; exactly 2 parts; less than one part.
    const image = addImage('1.4.0', [4 * PART + 10, 2 * PART, 1000]);
    const rec = recorder();
    const result = await mirrorImage(options({ log: rec.log, metrics: rec.metrics }));

    expect(result.digest).toBe(image.digest);
    expect(result.digest).toBe(sha256Digest(image.manifest));
    expect(result.imageUri).toBe(`${fake.targetRepositoryUri}@${image.digest}`);
    expect(result).toMatchObject({ copied: 4, skipped: 0, manifestsPut: 1 });
    expect(result.bytesCopied).toBe([...image.blobs.values()].reduce((n, b) => n + b.byteLength, 0));

    // Parts: exactly partSize except the last of each upload, never empty, never over.
    const parts = uploadedPartSizes();
    expect(parts.size).toBe(4);
    for (const sizes of parts.values()) {
      for (const s of sizes.slice(0, -1)) expect(s).toBe(PART);
      expect(sizes.at(-1)).toBeGreaterThan(0);
      expect(sizes.at(-1)).toBeLessThanOrEqual(PART);
    }
    expect([...parts.values()].map((s) => s.length).sort()).toEqual([1, 1, 2, 5]);
    // The fake registry reassembled each upload and checked its digest; compare with the source bytes too.
    for (const [digest, bytes] of image.blobs) {
      expect(Buffer.compare(fake.target.blobs.get(digest) as Uint8Array, bytes)).toBe(0);
    }

    // The manifest goes back byte for byte, with its media type, under the source tag.
    const puts = ecrMock.commandCalls(PutImageCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(1);
    expect(Buffer.from(puts[0]!.imageManifest!, 'utf8').equals(Buffer.from(image.manifest, 'utf8'))).toBe(true);
    expect(puts[0]).toMatchObject({ imageManifestMediaType: MEDIA_TYPES.dockerManifest, imageTag: '1.4.0', imageDigest: image.digest });
    expect(fake.target.tags.get('1.4.0')).toBe(image.digest);

    // BatchGetImage on the vendor side asked for all four manifest media types.
    const sourceGet = ecrMock.commandCalls(BatchGetImageCommand).find((c) => c.args[0].input.registryId === fake.options.sourceRegistryId);
    expect(sourceGet?.args[0].input.acceptedMediaTypes).toEqual(expect.arrayContaining(Object.values(MEDIA_TYPES)));

    // Progress lines per layer (short digest, bytes done / total) and metrics.
    const big = [...image.blobs.entries()].find(([, b]) => b.byteLength === 4 * PART + 10)![0];
    const lines = rec.records.filter((r) => r.attributes.layer === shortDigest(big));
    expect(lines.map((l) => l.message)).toEqual(expect.arrayContaining(['copying layer', 'layer progress', 'layer copied']));
    expect(lines.at(-1)!.attributes).toMatchObject({ bytesDone: 4 * PART + 10, bytesTotal: 4 * PART + 10 });
    expect(rec.metricValues.get('LayersCopied')).toBe(4);
    expect(rec.metricValues.get('LayersSkipped')).toBe(0);
    expect(rec.metricValues.get('BytesCopied')).toBe(result.bytesCopied);
  });

  it('WHEN the same image is mirrored again THEN nothing is uploaded or put, and the digest is reported again', async () => {
    const image = addImage('1.4.0', [3 * PART, 500]);
    await mirrorImage(options());
    ecrMock.resetHistory();
    const rec = recorder();
    const second = await mirrorImage(options({ log: rec.log, metrics: rec.metrics }));

    expect(second).toMatchObject({ digest: image.digest, copied: 0, skipped: 3, bytesCopied: 0, manifestsPut: 0, previousDigest: image.digest });
    expect(ecrMock.commandCalls(InitiateLayerUploadCommand)).toHaveLength(0);
    expect(ecrMock.commandCalls(UploadLayerPartCommand)).toHaveLength(0);
    expect(ecrMock.commandCalls(CompleteLayerUploadCommand)).toHaveLength(0);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
    expect(ecrMock.commandCalls(GetDownloadUrlForLayerCommand)).toHaveLength(0);
    expect(rec.metricValues.get('LayersSkipped')).toBe(3);
  });

  it('WHEN a previous run stopped after some layers THEN the next run uploads only the missing ones', async () => {
    const image = addImage('1.4.0', [2 * PART, PART + 1, 300]);
    // A run cut short by the time limit: the config and one layer made it.
    const [cfgDigest, firstLayer] = [...image.blobs.keys()];
    for (const d of [cfgDigest!, firstLayer!]) fake.target.blobs.set(d, image.blobs.get(d)!);

    const result = await mirrorImage(options());
    expect(result).toMatchObject({ copied: 2, skipped: 2, manifestsPut: 1 });
    const completed = ecrMock.commandCalls(CompleteLayerUploadCommand).map((c) => c.args[0].input.layerDigests![0]);
    expect(completed).not.toContain(cfgDigest);
    expect(completed).not.toContain(firstLayer);
    expect(completed).toHaveLength(2);
  });

  it('WHEN the deadline leaves no time for the next blob THEN the run stops with TIME_LIMIT and the next run finishes the copy', async () => {
    const image = addImage('1.4.0', [PART, PART, PART]);
    const err = await mirrorImage(options({ deadline: Date.now() - 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MirrorError);
    expect((err as MirrorError).code).toBe('TIME_LIMIT');
    expect((err as Error).message).toMatch(/after copying 1 of 4 missing blobs; the next run continues/);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);

    const next = await mirrorImage(options());
    expect(next).toMatchObject({ digest: image.digest, copied: 3, skipped: 1 });
  });
});

describe('GIVEN a multi-platform image (OCI index)', () => {
  function addIndex(): { index: string; digest: string; children: string[]; sharedLayer: string } {
    const shared = fake.addSourceBlob(randomBytes(PART + 7));
    const children = ['amd64', 'arm64'].map((arch) => {
      const cfg = fake.addSourceBlob(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux' })));
      const own = fake.addSourceBlob(randomBytes(2 * PART + 3));
      const text = JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
        layers: [own, shared].map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
      });
      return { text, digest: fake.addSourceManifest(text, MEDIA_TYPES.ociManifest), arch };
    });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: children.map((c) => ({
        mediaType: MEDIA_TYPES.ociManifest,
        digest: c.digest,
        size: Buffer.byteLength(c.text),
        platform: { architecture: c.arch, os: 'linux' },
      })),
    });
    const digest = fake.addSourceManifest(index, MEDIA_TYPES.ociIndex, '1.4.0');
    return { index, digest, children: children.map((c) => c.digest), sharedLayer: shared.digest };
  }

  it('WHEN mirrored THEN every platform manifest is put by digest without a tag before the index is put unchanged with the tag', async () => {
    const image = addIndex();
    const result = await mirrorImage(options());

    expect(result.digest).toBe(image.digest);
    expect(result.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    // 2 configs + 2 own layers + 1 shared layer, the shared one uploaded once.
    expect(result).toMatchObject({ copied: 5, skipped: 0, manifestsPut: 3 });
    const completed = ecrMock.commandCalls(CompleteLayerUploadCommand).map((c) => c.args[0].input.layerDigests![0]);
    expect(completed.filter((d) => d === image.sharedLayer)).toHaveLength(1);

    const puts = ecrMock.commandCalls(PutImageCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.imageDigest)).toEqual([...image.children, image.digest]);
    expect(puts.slice(0, 2).every((p) => p.imageTag === undefined && p.imageManifestMediaType === MEDIA_TYPES.ociManifest)).toBe(true);
    expect(puts[2]).toMatchObject({ imageTag: '1.4.0', imageManifestMediaType: MEDIA_TYPES.ociIndex });
    expect(puts[2]!.imageManifest).toBe(image.index);
    expect(fake.target.tags.get('1.4.0')).toBe(image.digest);
  });

  it('WHEN mirrored twice THEN the second run puts and uploads nothing', async () => {
    addIndex();
    await mirrorImage(options());
    ecrMock.resetHistory();
    const second = await mirrorImage(options());
    expect(second).toMatchObject({ copied: 0, skipped: 5, manifestsPut: 0 });
    expect(ecrMock.commandCalls(UploadLayerPartCommand)).toHaveLength(0);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });
});

describe('GIVEN downloads that go wrong', () => {
  it('WHEN a blob does not hash to its digest THEN the run fails with DIGEST_MISMATCH and nothing is published', async () => {
    const image = addImage('1.4.0', [3 * PART]);
    const [cfgDigest, layerDigest] = [...image.blobs.keys()];
    fake.target.blobs.set(cfgDigest!, image.blobs.get(cfgDigest!)!); // only the corrupt layer is left to copy
    const corrupt = Buffer.from(image.blobs.get(layerDigest!)!);
    corrupt[PART + 5] ^= 0xff;
    server.add(layerDigest!, corrupt);

    const err = await mirrorImage(options()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MirrorError);
    expect((err as MirrorError).code).toBe('DIGEST_MISMATCH');
    expect((err as Error).message).toContain(shortDigest(layerDigest!));
    expect((err as Error).message).toContain('nothing was published');
    expect(ecrMock.commandCalls(UploadLayerPartCommand).length).toBeGreaterThan(0); // it did stream
    expect(ecrMock.commandCalls(CompleteLayerUploadCommand)).toHaveLength(0);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
    expect(fake.target.blobs.has(layerDigest!)).toBe(false);
    expect(fake.target.tags.size).toBe(0);
  });

  it('WHEN the connection is cut mid-blob THEN the download resumes with a Range request on a fresh URL and the blob arrives intact', async () => {
    const image = addImage('1.4.0', [5 * PART + 123]);
    const layerDigest = [...image.blobs.keys()][1]!;
    server.cut(layerDigest, 2 * PART + 777);
    const rec = recorder();

    const result = await mirrorImage(options({ log: rec.log }));
    expect(result.digest).toBe(image.digest);
    const seen = server.requests.filter((r) => r.digest === layerDigest);
    expect(seen).toHaveLength(2);
    expect(seen[0]!.range).toBeUndefined();
    expect(seen[1]).toMatchObject({ range: `bytes=${2 * PART + 777}-`, status: 206 });
    expect(Buffer.compare(fake.target.blobs.get(layerDigest) as Uint8Array, image.blobs.get(layerDigest)!)).toBe(0);
    // A fresh pre-signed URL for the retry.
    const urlCalls = ecrMock.commandCalls(GetDownloadUrlForLayerCommand).filter((c) => c.args[0].input.layerDigest === layerDigest);
    expect(urlCalls).toHaveLength(2);
    const warn = rec.records.find((r) => r.message === 'layer download interrupted; resuming');
    expect(warn?.attributes).toMatchObject({ layer: shortDigest(layerDigest), bytesDone: 2 * PART + 777, attempt: 1 });
    // The URL (it carries a signature) is never logged.
    expect(JSON.stringify(rec.records)).not.toContain('X-Amz-Signature');
  });

  it('WHEN every attempt is cut THEN the run fails with DOWNLOAD_FAILED after the retries, naming the blob but not the URL', async () => {
    const image = addImage('1.4.0', [3 * PART]);
    const layerDigest = [...image.blobs.keys()][1]!;
    server.cut(layerDigest, 1000, 10);
    const err = await mirrorImage(options({ tuning: { retryDelayMs: 1, maxRetries: 2 } })).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('DOWNLOAD_FAILED');
    expect((err as Error).message).toContain(shortDigest(layerDigest));
    expect((err as Error).message).toContain('3 times');
    expect((err as Error).message).not.toContain('X-Amz-Signature');
    expect(server.requests.filter((r) => r.digest === layerDigest)).toHaveLength(3);
    expect(ecrMock.commandCalls(PutImageCommand)).toHaveLength(0);
  });
});

describe('GIVEN errors a user can hit', () => {
  it('WHEN the tag does not exist THEN TAG_NOT_FOUND names the tag and repository', async () => {
    addImage('1.4.0', [10]);
    const err = await mirrorImage(options({ vendor: { ...options().vendor, tag: '9.9.9' } })).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('TAG_NOT_FOUND');
    expect((err as Error).message).toBe(
      'tag 9.9.9 was not found in 249265253269.dkr.ecr.eu-west-1.amazonaws.com/verifeye/face-verification-api; check VENDOR_TAG',
    );
    expect(ecrMock.commandCalls(InitiateLayerUploadCommand)).toHaveLength(0);
  });

  it('WHEN the vendor repository name is wrong THEN REPOSITORY_NOT_FOUND names it and the region', async () => {
    const err = await mirrorImage(options({ vendor: { ...options().vendor, repository: 'verifeye/nope' } })).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('REPOSITORY_NOT_FOUND');
    expect((err as Error).message).toContain('verifeye/nope');
    expect((err as Error).message).toContain('eu-west-1');
  });

  it('WHEN the target repository does not exist THEN REPOSITORY_NOT_FOUND names TARGET_REPOSITORY_NAME before any download', async () => {
    addImage('1.4.0', [10]);
    const err = await mirrorImage(options({ targetRepositoryName: 'missing/repo' })).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('REPOSITORY_NOT_FOUND');
    expect((err as Error).message).toMatch(/target repository missing\/repo was not found in eu-central-1/);
    expect(server.requests).toHaveLength(0);
  });

  it('WHEN the vendor region does not resolve THEN REGION_INVALID names the region', async () => {
    ecrMock.on(BatchGetImageCommand).rejects(Object.assign(new Error('getaddrinfo ENOTFOUND api.ecr.eu-west-9.amazonaws.com'), { code: 'ENOTFOUND' }));
    const err = await mirrorImage(options({ vendor: { ...options().vendor, region: 'eu-west-9' } })).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('REGION_INVALID');
    expect((err as Error).message).toContain('eu-west-9');
  });

  it('WHEN the vendor manifest text does not hash to the digest ECR reports THEN DIGEST_MISMATCH before anything is copied', async () => {
    const image = addImage('1.4.0', [10]);
    fake.source.manifests.set(image.digest, { text: `${image.manifest} `, mediaType: MEDIA_TYPES.dockerManifest });
    const err = await mirrorImage(options()).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('DIGEST_MISMATCH');
    expect((err as Error).message).toContain(shortDigest(image.digest));
    expect(ecrMock.commandCalls(InitiateLayerUploadCommand)).toHaveLength(0);
  });

  it('WHEN the target repository has immutable tags pointing elsewhere THEN TAG_IMMUTABLE', async () => {
    addImage('1.4.0', [10]);
    ecrMock.on(PutImageCommand).rejects(new ImageTagAlreadyExistsException({ message: 'tag exists', $metadata: {} }));
    const err = await mirrorImage(options()).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('TAG_IMMUTABLE');
    expect((err as Error).message).toContain('immutable tags and tag 1.4.0');
  });

  it('WHEN ECR answers LimitExceededException THEN QUOTA_EXCEEDED; throttling after retries THEN THROTTLED', async () => {
    addImage('1.4.0', [10]);
    ecrMock.on(InitiateLayerUploadCommand).rejects(new LimitExceededException({ message: 'limit', $metadata: {} }));
    const quota = await mirrorImage(options()).catch((e: unknown) => e);
    expect((quota as MirrorError).code).toBe('QUOTA_EXCEEDED');
    expect((quota as Error).message).toContain('LimitExceededException');

    ecrMock.on(InitiateLayerUploadCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    const throttled = await mirrorImage(options()).catch((e: unknown) => e);
    expect((throttled as MirrorError).code).toBe('THROTTLED');
  });
});

describe('GIVEN the vendor key pair comes from Secrets Manager', () => {
  const config = (): MirrorConfig => ({
    vendor: {
      registry: '249265253269.dkr.ecr.eu-west-1.amazonaws.com',
      registryId: fake.options.sourceRegistryId,
      region: fake.options.sourceRegion,
      repository: fake.options.sourceRepository,
      tag: '1.4.0',
      credentialsSecretId: 'vendor/ecr-pull',
    },
    targetRepositoryName: fake.options.targetRepository,
    rolloutMode: 'pinned',
  });
  const deps = (rec = recorder()) => ({
    target: new ECRClient({ region: fake.options.targetRegion, credentials: { accessKeyId: 'role', secretAccessKey: 'role' } }),
    ecs: undefined as never,
    vendorClients: new VendorRegistryClientCache({ secrets: new SecretsManagerClient({ region: 'eu-central-1' }), secretId: 'vendor/ecr-pull', region: 'eu-west-1' }),
    targetRegion: fake.options.targetRegion,
    log: rec.log,
    metrics: rec.metrics,
    tuning: { retryDelayMs: 1 },
  });

  it('WHEN the secret holds the right key pair THEN the vendor client uses it and the image is copied', async () => {
    const image = addImage('1.4.0', [PART + 1]);
    secretsMock.on(GetSecretValueCommand, { SecretId: 'vendor/ecr-pull' }).resolves({ SecretString: JSON.stringify(fake.options.keyPair) });
    const result = await syncVendorImage(config(), deps(), { rollout: false });
    expect(result).toMatchObject({ digest: image.digest, copied: 2, rolledOut: false });
  });

  for (const [name, keyPair, awsName] of [
    ['an unknown access key', { accessKeyId: 'AKIAWRONGWRONGWRONG1', secretAccessKey: 'wrong/secret+Value1' }, 'UnrecognizedClientException'],
    ['a wrong secret key', { accessKeyId: 'AKIAVENDOREXAMPLE0001', secretAccessKey: 'wrong/secret+Value2' }, 'InvalidSignatureException'],
  ] as const) {
    it(`WHEN ECR rejects ${name} THEN CREDENTIALS_REJECTED names the secret and region, never the keys, and the next run reads the secret again`, async () => {
      addImage('1.4.0', [10]);
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(keyPair) });
      const rec = recorder();
      const d = deps(rec);
      const err = await syncVendorImage(config(), d, { rollout: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MirrorError);
      expect((err as MirrorError).code).toBe('CREDENTIALS_REJECTED');
      expect((err as MirrorError).awsErrorName).toBe(awsName);
      expect((err as Error).message).toMatch(/^the vendor key pair in secret vendor\/ecr-pull was rejected by ECR in eu-west-1/);
      const everything = JSON.stringify({ message: (err as Error).message, stack: (err as Error).stack, cause: (err as Error).cause, logs: rec.records });
      for (const value of [keyPair.accessKeyId, keyPair.secretAccessKey, fake.options.keyPair.secretAccessKey]) expect(everything).not.toContain(value);
      expect(rec.metricValues.get('MirrorFailed')).toBe(1);

      // The cached client was dropped: a second run reads the secret again.
      await syncVendorImage(config(), d, { rollout: false }).catch(() => undefined);
      expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });
  }

  it('WHEN the secret does not exist THEN SECRET_NOT_FOUND says so by name', async () => {
    secretsMock.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }));
    const err = await syncVendorImage(config(), deps(), { rollout: false }).catch((e: unknown) => e);
    expect((err as MirrorError).code).toBe('SECRET_NOT_FOUND');
    expect((err as Error).message).toBe('vendor credentials secret vendor/ecr-pull not found');
  });

  for (const [name, value, reason] of [
    ['not JSON', 'AKIAVENDOREXAMPLE0001:vendor/secret+Key', /it is not JSON/],
    ['missing secretAccessKey', JSON.stringify({ accessKeyId: 'AKIAVENDOREXAMPLE0001' }), /field secretAccessKey is missing/],
    ['a JSON array', JSON.stringify(['AKIAVENDOREXAMPLE0001', 'vendor/secret+Key']), /not a JSON object/],
  ] as const) {
    it(`WHEN the secret is ${name} THEN SECRET_MALFORMED names the secret and the problem, never the value`, async () => {
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: value });
      const rec = recorder();
      const err = await syncVendorImage(config(), deps(rec), { rollout: false }).catch((e: unknown) => e);
      expect((err as MirrorError).code).toBe('SECRET_MALFORMED');
      expect((err as Error).message).toContain('vendor credentials secret vendor/ecr-pull is malformed');
      expect((err as Error).message).toMatch(reason);
      const everything = JSON.stringify({ m: (err as Error).message, c: String((err as Error).cause), logs: rec.records });
      expect(everything).not.toContain('AKIAVENDOREXAMPLE0001');
      expect(everything).not.toContain('vendor/secret+Key');
      expect(ecrMock.calls().filter((c) => c.args[0] instanceof BatchGetImageCommand && c.args[0].input.registryId)).toHaveLength(0);
    });
  }
});
