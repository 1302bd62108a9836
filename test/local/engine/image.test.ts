import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sniffImageFormat } from '../../../lambda/shared/image-bytes.js';
import { cropFrame, decodeImage, openImage } from '../../../local/engine/image.js';
import { fakeJpeg, greyPng } from './samples.js';

describe('decodeImage', () => {
  it('returns 3-channel RGB of the full image, or of a copy scaled to maxSide', async () => {
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#336699' } }).png().toBuffer();
    const full = await decodeImage(png);
    expect([full.width, full.height, full.frame.width, full.frame.height]).toEqual([300, 200, 300, 200]);
    expect(full.frame.data.length).toBe(300 * 200 * 3);
    expect([...full.frame.data.subarray(0, 3)]).toEqual([0x33, 0x66, 0x99]);
    const small = await decodeImage(png, 150);
    expect([small.width, small.height, small.frame.width, small.frame.height]).toEqual([300, 200, 150, 100]);
    // Never enlarged.
    expect((await decodeImage(png, 1000)).frame.width).toBe(300);
  });

  it('turns greyscale and 16-bit PNG with alpha into 8-bit RGB', async () => {
    const grey = await decodeImage(await sharp(await greyPng(20, 10)).greyscale().png().toBuffer());
    expect(grey.frame.data.length).toBe(20 * 10 * 3);
    const deep = await sharp({ create: { width: 8, height: 4, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    const decoded = await decodeImage(deep);
    expect(decoded.frame.data.length).toBe(8 * 4 * 3);
    expect([...decoded.frame.data.subarray(0, 3)]).toEqual([10, 20, 30]);
  });

  it('applies EXIF orientation: the frame is the displayed one', async () => {
    // Stored 40 wide x 60 high, tagged orientation 6 (rotate 90 CW to display) -> displayed 60x40.
    const stored = await sharp({ create: { width: 40, height: 60, channels: 3, background: '#ff0000' } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const decoded = await decodeImage(stored);
    expect([decoded.width, decoded.height, decoded.frame.width, decoded.frame.height]).toEqual([60, 40, 60, 40]);
  });

  it('refuses non-JPEG/PNG, undecodable and truncated bytes with image-rejected', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    for (const bad of [fakeJpeg(), Buffer.from('GIF89a'), Buffer.alloc(0), jpeg.subarray(0, jpeg.length >> 1)]) {
      await expect(decodeImage(bad)).rejects.toMatchObject({ kind: 'image-rejected', status: 400 });
    }
  });

  it('refuses an image over 40 megapixels before decoding it', async () => {
    const huge = await sharp({ create: { width: 8000, height: 5001, channels: 3, background: '#000000' } }).png({ compressionLevel: 1 }).toBuffer();
    await expect(decodeImage(huge, 640)).rejects.toMatchObject({ kind: 'image-rejected', message: expect.stringMatching(/40 megapixels/) });
  });
});

describe('openImage', () => {
  it('reads the displayed size from the header, then decodes at full size, under a max side, or to an exact size', async () => {
    const stored = await sharp({ create: { width: 40, height: 60, channels: 3, background: '#00ff00' } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const image = await openImage(stored);
    expect([image.width, image.height]).toEqual([60, 40]);
    const full = await image.decode();
    expect([full.width, full.height, full.data.length]).toEqual([60, 40, 60 * 40 * 3]);
    const capped = await image.decode(30);
    expect([capped.width, capped.height]).toEqual([30, 20]);
    // An exact size may change the aspect ratio and enlarge (the detector's canvas content).
    const exact = await image.decode({ width: 90, height: 31 });
    expect([exact.width, exact.height, exact.data.length]).toEqual([90, 31, 90 * 31 * 3]);
    expect(exact.data[1]).toBeGreaterThan(200); // still green
  });

  it('refuses an image over 40 megapixels from its header, before any decode', async () => {
    const huge = await sharp({ create: { width: 8000, height: 5001, channels: 3, background: '#000000' } }).png({ compressionLevel: 1 }).toBuffer();
    await expect(openImage(huge)).rejects.toMatchObject({ kind: 'image-rejected', status: 400, message: expect.stringMatching(/40 megapixels/) });
  });

  it('reports pixel data that does not decode (truncated JPEG) as image-rejected from decode()', async () => {
    const jpeg = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const image = await openImage(jpeg.subarray(0, jpeg.length >> 1));
    expect([image.width, image.height]).toEqual([256, 256]);
    await expect(image.decode()).rejects.toMatchObject({ kind: 'image-rejected', status: 400 });
    await expect(image.decode({ width: 64, height: 64 })).rejects.toMatchObject({ kind: 'image-rejected', status: 400 });
  });
});

describe('sniffImageFormat (shared with the gateway)', () => {
  it('recognises JPEG and PNG signatures only', async () => {
    expect(sniffImageFormat(fakeJpeg())).toBe('jpeg');
    expect(sniffImageFormat(await greyPng(4, 4))).toBe('png');
    expect(sniffImageFormat(Buffer.from('GIF89a'))).toBeUndefined();
  });
});

describe('cropFrame', () => {
  it('cuts a region and scales it', async () => {
    const png = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#0000ff' } }).png().toBuffer();
    const { frame } = await decodeImage(png);
    const crop = await cropFrame(frame, { left: 10, top: 20, width: 40, height: 30 }, 20, 15);
    expect([crop.width, crop.height, crop.data.length]).toEqual([20, 15, 20 * 15 * 3]);
    expect([...crop.data.subarray(0, 3)]).toEqual([0, 0, 255]);
  });
});
