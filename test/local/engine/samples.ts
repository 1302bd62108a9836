/** Test fixtures: face-api's own sample photos (shipped in the npm package) and images made with sharp. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FACE_API_DIR } from '../../../local/engine/runtime.js';

/** sample1.jpg is 1920x1280 with three faces; the others are 1920 px wide with 3-5 faces. */
export function sample(n: 1 | 2 | 3 | 4 | 5 | 6): Buffer {
  return readFileSync(path.join(FACE_API_DIR, 'demo', `sample${n}.jpg`));
}

/** A flat grey PNG: no face anywhere. */
export function greyPng(width = 640, height = 480): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#808080' } }).png().toBuffer();
}

/** Bytes that start like a JPEG and then are junk. */
export const fakeJpeg = (): Buffer => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 0x5a)]);

export const norm = (v: readonly number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
