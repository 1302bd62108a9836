/**
 * Images that are not what they claim: header-only PNG/JPEG with any
 * dimensions (nothing is decoded, so 2^31 px costs 60 bytes), truncated and
 * padded files, polyglots and other formats wearing a JPEG/PNG signature.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { pngChunk, sample } from '../images.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A PNG whose IHDR claims `width` x `height` (any uint32) followed by one tiny
 * IDAT: a decompression bomb as a header reader sees it, without allocating the pixels.
 */
export function pngHeaderOnly(width: number, height: number, idat: Buffer = deflateSync(Buffer.alloc(8))): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width >>> 0, 0);
  ihdr.writeUInt32BE(height >>> 0, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A baseline JPEG skeleton (SOI, APP0, SOF0 with the given size, EOI) and no scan data. */
export function jpegHeaderOnly(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
  sof.writeUInt16BE(height & 0xffff, 5);
  sof.writeUInt16BE(width & 0xffff, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}

/** Real, small, decodable images plus one real photo (made once per suite). */
export interface ImageKit {
  /** 16x16 JPEG (about 600 bytes). */
  readonly tinyJpeg: Buffer;
  /** 16x16 PNG. */
  readonly tinyPng: Buffer;
  /** A 1x1 PNG. */
  readonly onePixelPng: Buffer;
  /** face-api's sample2.jpg scaled to 320 px (one face). */
  readonly smallPhoto: Buffer;
  /** Fixed hostile images that start with a JPEG or PNG signature (so they pass the format sniff). */
  readonly disguised: ReadonlyArray<{ readonly label: string; readonly bytes: Buffer }>;
  /** Fixed files that are not JPEG/PNG at all. */
  readonly foreign: ReadonlyArray<{ readonly label: string; readonly bytes: Buffer }>;
}

export async function makeImageKit(): Promise<ImageKit> {
  const noise = Buffer.alloc(16 * 16 * 3, 0);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 37) & 0xff;
  const raw = { raw: { width: 16, height: 16, channels: 3 as const } };
  const tinyJpeg = await sharp(noise, raw).jpeg().toBuffer();
  const tinyPng = await sharp(noise, raw).png().toBuffer();
  const onePixelPng = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
  const smallPhoto = await sharp(sample(2)).resize({ width: 320 }).jpeg({ quality: 85 }).toBuffer();
  const zip = Buffer.from('504b0304140000000800' + '00'.repeat(20), 'hex');
  const html = Buffer.from('<html><script>alert(document.cookie)</script></html>');
  const disguised = [
    { label: 'jpeg SOI + html', bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), html]) },
    { label: 'jpeg + appended zip (polyglot)', bytes: Buffer.concat([tinyJpeg, zip]) },
    { label: 'jpeg + appended php (polyglot)', bytes: Buffer.concat([tinyJpeg, Buffer.from('<?php system($_GET["c"]); ?>')]) },
    { label: 'png + appended html (polyglot)', bytes: Buffer.concat([tinyPng, html]) },
    { label: 'png signature + jpeg body', bytes: Buffer.concat([PNG_SIGNATURE, tinyJpeg]) },
    { label: 'jpeg SOI + png body', bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), tinyPng]) },
    { label: 'png 1x1 header only', bytes: pngHeaderOnly(1, 1) },
    { label: 'png 8192x8192 header', bytes: pngHeaderOnly(8192, 8192) },
    { label: 'png 8193x1 header', bytes: pngHeaderOnly(8193, 1) },
    { label: 'png 6324x6324 header (40.0 MP)', bytes: pngHeaderOnly(6324, 6324) },
    { label: 'png 2^31x2^31 header', bytes: pngHeaderOnly(2 ** 31, 2 ** 31) },
    { label: 'png 0x0 header', bytes: pngHeaderOnly(0, 0) },
    { label: 'jpeg 65535x65535 header', bytes: jpegHeaderOnly(65535, 65535) },
    { label: 'jpeg 8192x4882 header (40.0 MP)', bytes: jpegHeaderOnly(8192, 4882) },
    { label: 'jpeg 0x0 header', bytes: jpegHeaderOnly(0, 0) },
    { label: 'jpeg SOI only', bytes: Buffer.from([0xff, 0xd8, 0xff]) },
    { label: 'png signature only', bytes: PNG_SIGNATURE },
    { label: 'truncated jpeg', bytes: tinyJpeg.subarray(0, tinyJpeg.length >> 1) },
    { label: 'truncated png', bytes: tinyPng.subarray(0, tinyPng.length >> 1) },
    { label: 'jpeg with zeroed scan', bytes: Buffer.concat([tinyJpeg.subarray(0, 200), Buffer.alloc(tinyJpeg.length - 200)]) },
  ];
  const foreign = [
    { label: 'gif', bytes: Buffer.from('474946383961010001000000002c00000000010001000002024401003b', 'hex') },
    { label: 'webp', bytes: Buffer.concat([Buffer.from('RIFF\x1a\x00\x00\x00WEBPVP8 ', 'latin1'), Buffer.alloc(14)]) },
    { label: 'bmp', bytes: Buffer.concat([Buffer.from('BM', 'ascii'), Buffer.alloc(60)]) },
    { label: 'svg', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>') },
    { label: 'pdf', bytes: Buffer.from('%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF') },
    { label: 'html', bytes: html },
    { label: 'zip', bytes: zip },
    { label: 'elf', bytes: Buffer.from('7f454c46020101000000000000000000', 'hex') },
    { label: 'empty', bytes: Buffer.alloc(0) },
    { label: 'utf-8 text', bytes: Buffer.from('not an image at all \u2603') },
  ];
  return { tinyJpeg, tinyPng, onePixelPng, smallPhoto, disguised, foreign };
}
