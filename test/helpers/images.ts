/** Real image files for tests: the sample photos shipped in @vladmandic/face-api, and images made with sharp. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';

const faceApiDir = dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json'));

/** `sample1.jpg` ... `sample6.jpg` from the face-api package (real photos of people). */
export function samplePath(n: number): string {
  return join(faceApiDir, 'demo', `sample${n}.jpg`);
}

export function sample(n: number): Buffer {
  return readFileSync(samplePath(n));
}

/** CRC-32 (the PNG chunk checksum). */
export function crc32(buf: Buffer): number {
  let crc = ~0;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** One PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/**
 * A well-formed PNG whose header claims `width` x `height` (grey, 8-bit) with a tiny
 * compressed body: what a decompression bomb looks like to a header reader.
 */
export function pngWithHeader(width: number, height: number, rows = 1): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc(Math.min(rows, height) * (width + 1));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
