import { imageSize } from 'image-size';
import { sniffImageFormat, type ImageFormat } from './image-signature.js';
import { LIMITS } from './limits.js';

export { IMAGE_SIGNATURE_BYTES, sniffImageFormat, type ImageFormat } from './image-signature.js';

/**
 * Strict RFC 4648 base64 (standard alphabet, padded, no whitespace). Node's decoder
 * silently skips junk, so the check is: decode, re-encode, and compare. Only the
 * canonical encoding of the decoded bytes passes. A regular expression does the
 * same job about 20 times slower on a 1 MB image (10.7 ms vs 0.5 ms, measured).
 */
function isStrictBase64(value: string): boolean {
  if (value.length % 4 !== 0) return false;
  return Buffer.from(value, 'base64').toString('base64') === value;
}

/** Why a base64 image string was refused; `undefined` when it is acceptable. */
export function base64ImageProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.startsWith('data:')) return 'must be plain base64, without a "data:...;base64," prefix';
  if (!isStrictBase64(value)) {
    return 'must be strict base64 (alphabet A-Z a-z 0-9 + /, padded with =, no whitespace)';
  }
  // 12 base64 characters decode to 9 bytes: enough for both signatures.
  if (!sniffImageFormat(Buffer.from(value.slice(0, 12), 'base64'))) return 'must be a JPEG or PNG image';
  return undefined;
}

/** Image dimensions read from the header only (no pixel decoding). */
export interface ImageDimensions {
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
}

/**
 * The bytes in an ArrayBuffer of exactly their length. image-size 2.1 reads fields through
 * `new DataView(input.buffer, input.byteOffset + offset)`, a view without an end: on a
 * truncated header it would read past the image into whatever shares the ArrayBuffer
 * (Node's 8 KiB pool for small Buffers: stale process memory) and report it as a dimension.
 * Copying costs about a millisecond on a 4 MB image; most large Buffers need no copy.
 */
function ownBuffer(bytes: Buffer): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/**
 * Reads width/height from a JPEG/PNG header and refuses decompression bombs:
 * more than 8,192 px a side or 40 megapixels. Returns a reason string when refused.
 */
export function checkImageDimensions(bytes: Buffer): { ok: true; dimensions: ImageDimensions } | { ok: false; reason: string } {
  const format = sniffImageFormat(bytes);
  if (!format) return { ok: false, reason: 'must be a JPEG or PNG image' };
  let size: { width?: number; height?: number };
  try {
    size = imageSize(ownBuffer(bytes));
  } catch {
    return { ok: false, reason: `is not a readable ${format.toUpperCase()} image (no valid header with dimensions)` };
  }
  const { width, height } = size;
  if (!width || !height) return { ok: false, reason: `is not a readable ${format.toUpperCase()} image (no dimensions in header)` };
  if (width > LIMITS.maxImageSidePx || height > LIMITS.maxImageSidePx) {
    return { ok: false, reason: `is ${width}x${height} px; at most ${LIMITS.maxImageSidePx} px a side is accepted` };
  }
  if (width * height > LIMITS.maxImagePixels) {
    return { ok: false, reason: `is ${width}x${height} px (${((width * height) / 1e6).toFixed(1)} MP); at most 40 megapixels are accepted` };
  }
  return { ok: true, dimensions: { width, height, format } };
}
