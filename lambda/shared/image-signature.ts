/**
 * JPEG/PNG signatures, on their own (no dependencies) so the fetch-image bundle can
 * sniff downloads without carrying the header parser.
 */

/** The two formats the vendor accepts. */
export type ImageFormat = 'jpeg' | 'png';

const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Bytes needed to tell JPEG from PNG (the longer signature). */
export const IMAGE_SIGNATURE_BYTES = PNG_SIGNATURE.length;

/** Sniffs JPEG/PNG from the first bytes, whatever a Content-Type or file name claims. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= JPEG_SIGNATURE.length && buf.subarray(0, 3).equals(JPEG_SIGNATURE)) return 'jpeg';
  if (buf.length >= PNG_SIGNATURE.length && buf.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  return undefined;
}
