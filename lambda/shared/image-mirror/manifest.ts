/**
 * Image manifests and indexes as ECR serves them: media types, the blobs an
 * image manifest references, the children of an index, and digests.
 */
import { createHash } from 'node:crypto';
import { MirrorError } from './errors.js';

/** The manifest media types the mirror asks ECR for and knows how to copy. */
export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

/** `acceptedMediaTypes` for BatchGetImage: without them ECR may convert the manifest (and change its digest). */
export const ACCEPTED_MEDIA_TYPES: string[] = Object.values(MEDIA_TYPES);

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex]);
const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest]);
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** A content-addressed blob (config or layer) an image manifest references. */
export interface BlobDescriptor {
  readonly digest: string;
  readonly size: number;
  readonly mediaType?: string;
}

/** A child manifest an index references, with its platform when given. */
export interface ChildManifestDescriptor extends BlobDescriptor {
  /** `os/architecture[/variant]`, or `unknown` (e.g. a build attestation). */
  readonly platform: string;
}

/** What a manifest references: blobs (image manifest) or child manifests (index). */
export type ParsedManifest =
  | { readonly kind: 'image'; readonly mediaType: string; readonly blobs: readonly BlobDescriptor[] }
  | { readonly kind: 'index'; readonly mediaType: string; readonly children: readonly ChildManifestDescriptor[] };

/** `sha256:<hex>` of the exact bytes (a string is hashed as UTF-8, as the registry stores it). */
export function sha256Digest(content: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

/** `sha256:0123456789ab`: the short form used in log lines. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 'sha256:'.length + 12);
}

/** True for a `sha256:` digest with 64 lower-case hex digits. */
export function isSha256Digest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

function descriptor(raw: unknown, where: string): BlobDescriptor {
  const d = raw as { digest?: unknown; size?: unknown; mediaType?: unknown } | null;
  if (!d || !isSha256Digest(d.digest)) {
    throw new MirrorError('UNSUPPORTED_MANIFEST', `${where} has a descriptor without a sha256 digest`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new MirrorError('UNSUPPORTED_MANIFEST', `${where} has a descriptor ${shortDigest(d.digest)} without a valid size`);
  }
  return { digest: d.digest, size: d.size, ...(typeof d.mediaType === 'string' ? { mediaType: d.mediaType } : {}) };
}

/**
 * Parses a manifest or index and lists what it references.
 * @param text the manifest exactly as BatchGetImage returned it
 * @param mediaType `imageManifestMediaType` from BatchGetImage; falls back to the document's own `mediaType`
 * @throws MirrorError UNSUPPORTED_MANIFEST for schema 1, unknown media types or malformed descriptors.
 */
export function parseManifest(text: string, mediaType?: string): ParsedManifest {
  let doc: { mediaType?: unknown; schemaVersion?: unknown; config?: unknown; layers?: unknown; manifests?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    throw new MirrorError('UNSUPPORTED_MANIFEST', 'the vendor image manifest is not valid JSON');
  }
  const type = mediaType ?? (typeof doc.mediaType === 'string' ? doc.mediaType : undefined) ?? '';
  if (INDEX_TYPES.has(type)) {
    if (!Array.isArray(doc.manifests)) throw new MirrorError('UNSUPPORTED_MANIFEST', `the ${type} has no manifests array`);
    const children = doc.manifests.map((m: unknown, i: number) => {
      const base = descriptor(m, `index entry ${i}`);
      const p = (m as { platform?: { os?: unknown; architecture?: unknown; variant?: unknown } }).platform;
      const platform =
        p && typeof p.os === 'string' && typeof p.architecture === 'string'
          ? [p.os, p.architecture, typeof p.variant === 'string' ? p.variant : undefined].filter(Boolean).join('/')
          : 'unknown';
      return { ...base, platform };
    });
    return { kind: 'index', mediaType: type, children };
  }
  if (IMAGE_TYPES.has(type)) {
    if (!Array.isArray(doc.layers)) throw new MirrorError('UNSUPPORTED_MANIFEST', `the ${type} has no layers array`);
    // The config blob is uploaded like a layer: PutImage checks that it exists.
    const blobs = [descriptor(doc.config, 'the manifest config'), ...doc.layers.map((l: unknown, i: number) => descriptor(l, `layer ${i}`))];
    return { kind: 'image', mediaType: type, blobs };
  }
  throw new MirrorError(
    'UNSUPPORTED_MANIFEST',
    `the vendor image has media type "${type || 'unknown'}" (schema ${String(doc.schemaVersion ?? '?')}); the mirror copies Docker v2 and OCI manifests and indexes`,
  );
}
