import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, EMBEDDING_DIMENSION, FACERES_CROP_SCALE, type DetectResult, type FaceEngine } from '../../../local/engine/engine.js';
import { boxArea, iou, type PixelBox } from '../../../local/engine/geometry.js';
import { liveTensorCount } from '../../../local/engine/runtime.js';
import { loadEngineScoreTable } from '../../../local/engine/score.js';
import { scoreEmbeddings } from '../../../lambda/shared/score-table.js';
import { fakeJpeg, greyPng, norm, sample } from './samples.js';

let engine: FaceEngine;
let full: DetectResult; // sample1.jpg, maxFaceCount 10

beforeAll(async () => {
  engine = await createEngine();
  await engine.ready;
  full = await engine.detect(sample(1), 10);
});

/** The face of `faces` overlapping `box` most, with its IoU. */
function bestMatch(box: PixelBox, faces: readonly { boundingBox: PixelBox }[]) {
  return faces.map((f) => ({ face: f, iou: iou(box, f.boundingBox) })).sort((a, b) => b.iou - a.iou)[0]!;
}

const scaleBox = (b: PixelBox, s: number): PixelBox => ({ x: b.x * s, y: b.y * s, width: b.width * s, height: b.height * s });

describe('createEngine', () => {
  it('loads the models well within the gateway start budget and reports the warm-up', () => {
    // GIVEN the engine created in beforeAll THEN model load is far below the 5 s start budget
    expect(engine.info.backend).toBe('wasm');
    expect(engine.info.loadMs).toBeLessThan(3000);
    expect(engine.info.warmUpMs).toBeGreaterThan(0);
  });
});

describe('detect', () => {
  it('finds the three faces of sample1 with integer boxes inside the 1920x1280 image, largest first', () => {
    expect(full.faces).toHaveLength(3);
    expect(full.unprocessedFaceCount).toBe(0);
    for (const { confidence, boundingBox: b } of full.faces) {
      expect(confidence).toBeGreaterThanOrEqual(0.5);
      expect(confidence).toBeLessThanOrEqual(1);
      for (const v of [b.x, b.y, b.width, b.height]) expect(Number.isInteger(v)).toBe(true);
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.y).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(1920);
      expect(b.y + b.height).toBeLessThanOrEqual(1280);
      // A face in a group photo: between 50 and 600 px wide.
      expect(b.width).toBeGreaterThan(50);
      expect(b.width).toBeLessThan(600);
    }
    const areas = full.faces.map((f) => boxArea(f.boundingBox));
    expect(areas).toEqual([...areas].sort((a, b) => b - a));
  });

  it('honours maxFaceCount: the largest faces are returned and the rest counted as unprocessed', async () => {
    const one = await engine.detect(sample(1), 1);
    expect(one.faces).toEqual(full.faces.slice(0, 1));
    expect(one.unprocessedFaceCount).toBe(2);
    const two = await engine.detect(sample(1), 2);
    expect(two.faces).toEqual(full.faces.slice(0, 2));
    expect(two.unprocessedFaceCount).toBe(1);
  });

  it('maps boxes of a 2x-downscaled copy to about half the original boxes', async () => {
    const half = await sharp(sample(1)).resize(960).jpeg({ quality: 90 }).toBuffer();
    const small = await engine.detect(half, 10);
    expect(small.faces).toHaveLength(3);
    for (const f of small.faces) {
      expect(f.boundingBox.x + f.boundingBox.width).toBeLessThanOrEqual(960);
      expect(f.boundingBox.y + f.boundingBox.height).toBeLessThanOrEqual(640);
      const match = bestMatch(scaleBox(f.boundingBox, 2), full.faces);
      expect(match.iou).toBeGreaterThan(0.85);
    }
  });

  it('gives boxes in the displayed frame for an EXIF-rotated JPEG (orientation 6)', async () => {
    // GIVEN pixels stored rotated a quarter turn back, tagged "rotate 90 CW to display"
    const stored = await sharp(sample(1)).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 92 }).toBuffer();
    const meta = await sharp(stored).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([1280, 1920, 6]);
    // WHEN detected THEN the boxes are those of the upright 1920x1280 image
    const rotated = await engine.detect(stored, 10);
    expect(rotated.faces).toHaveLength(3);
    for (const f of rotated.faces) {
      expect(f.boundingBox.x + f.boundingBox.width).toBeLessThanOrEqual(1920);
      expect(f.boundingBox.y + f.boundingBox.height).toBeLessThanOrEqual(1280);
      expect(bestMatch(f.boundingBox, full.faces).iou).toBeGreaterThan(0.85);
    }
  });

  it('finds the one face of a small enlarged image (decoded whole, scaled up as face-api does)', async () => {
    // GIVEN a 240x300 crop around sample1's largest face (the detector sees it at 410x512)
    const b = full.faces[0]!.boundingBox;
    const left = Math.max(0, Math.round(b.x + b.width / 2 - 0.65 * b.width));
    const top = Math.max(0, Math.round(b.y + b.height / 2 - 0.8 * b.height));
    const crop = await sharp(sample(1)).extract({ left, top, width: Math.round(1.3 * b.width), height: Math.round(1.6 * b.height) }).resize(240, 300, { fit: 'fill' }).jpeg().toBuffer();
    // WHEN detected THEN one face covering most of the frame, inside it
    const result = await engine.detect(crop, 10);
    expect(result.faces).toHaveLength(1);
    const box = result.faces[0]!.boundingBox;
    expect(box.x + box.width).toBeLessThanOrEqual(240);
    expect(box.y + box.height).toBeLessThanOrEqual(300);
    expect(boxArea(box)).toBeGreaterThan(0.25 * 240 * 300);
  });

  it('reads PNG input', async () => {
    const png = await sharp(sample(1)).resize(960).png().toBuffer();
    const result = await engine.detect(png, 10);
    expect(result.faces).toHaveLength(3);
  });

  it('answers faces [] and unprocessedFaceCount 0 for an image without a face', async () => {
    const grey = await greyPng();
    await expect(engine.detect(grey, 10)).resolves.toEqual({ faces: [], unprocessedFaceCount: 0 });
    await expect(engine.embed(grey, 10)).resolves.toEqual({ faces: [], unprocessedFaceCount: 0 });
  });

  it('refuses bytes that do not decode with a 400 image-rejected problem', async () => {
    await expect(engine.detect(fakeJpeg(), 1)).rejects.toMatchObject({ kind: 'image-rejected', status: 400 });
    await expect(engine.embed(fakeJpeg(), 1)).rejects.toMatchObject({ kind: 'image-rejected', status: 400 });
    await expect(engine.detect(Buffer.from('GIF89a-not-supported'), 1)).rejects.toMatchObject({ kind: 'image-rejected' });
  });

  it('refuses a maxFaceCount outside 1..10', async () => {
    for (const bad of [0, 11, 1.5]) {
      await expect(engine.detect(sample(1), bad)).rejects.toMatchObject({ kind: 'validation-error', status: 400 });
    }
  });
});

describe('embed', () => {
  it('returns one unit-length embedding of EMBEDDING_DIMENSION (1024) numbers per returned face, with the detect boxes', async () => {
    const result = await engine.embed(sample(1), 3);
    expect(result.unprocessedFaceCount).toBe(0);
    expect(result.faces.map((f) => f.face)).toEqual(full.faces);
    for (const { embedding } of result.faces) {
      expect(embedding).toHaveLength(EMBEDDING_DIMENSION);
      expect(embedding.every(Number.isFinite)).toBe(true);
      expect(Math.abs(norm(embedding) - 1)).toBeLessThan(1e-6);
    }
    const one = await engine.embed(sample(1), 1);
    expect(one.faces).toHaveLength(1);
    expect(one.unprocessedFaceCount).toBe(2);
    expect(one.faces[0]!.embedding).toEqual(result.faces[0]!.embedding);
  });

  it('scores a face >= 90 against a resized, re-encoded copy of itself and different people < 70', async () => {
    const table = loadEngineScoreTable();
    const original = await engine.embed(sample(1), 3);
    const copyBytes = await sharp(sample(1)).resize(1152).jpeg({ quality: 60 }).toBuffer();
    const copy = await engine.embed(copyBytes, 3);
    expect(copy.faces).toHaveLength(3);
    for (const f of original.faces) {
      // Match the copy's face by position (copy is 0.6x the size).
      const twin = copy.faces
        .map((c) => ({ c, o: iou(f.face.boundingBox, scaleBox(c.face.boundingBox, 1920 / 1152)) }))
        .sort((a, b) => b.o - a.o)[0]!;
      expect(twin.o).toBeGreaterThan(0.8);
      expect(scoreEmbeddings(table, f.embedding, twin.c.embedding)).toBeGreaterThanOrEqual(90);
    }
    // Three different women in one photo: every pair stays below the match threshold.
    const [a, b, c] = original.faces.map((f) => f.embedding);
    for (const [x, y] of [
      [a!, b!],
      [a!, c!],
      [b!, c!],
    ]) {
      expect(scoreEmbeddings(table, x, y)).toBeLessThan(70);
    }
  });

  it('embeds from the decoded frame itself for images up to 1024 px: same people as the full-size photo', async () => {
    const table = loadEngineScoreTable();
    const original = await engine.embed(sample(1), 3);
    const half = await engine.embed(await sharp(sample(1)).resize(960).jpeg({ quality: 90 }).toBuffer(), 3);
    expect(half.faces).toHaveLength(3);
    for (const f of original.faces) {
      const twin = half.faces.map((c) => ({ c, o: iou(f.face.boundingBox, scaleBox(c.face.boundingBox, 2)) })).sort((a, b) => b.o - a.o)[0]!;
      expect(twin.o).toBeGreaterThan(0.8);
      expect(scoreEmbeddings(table, f.embedding, twin.c.embedding)).toBeGreaterThanOrEqual(90);
    }
  });

  it('embeds a face whose 1.2x FaceRes square leaves the image (black padding) like the same face inside it', async () => {
    // GIVEN sample1 cut so that its largest face touches the left and top edges
    const table = loadEngineScoreTable();
    const b = full.faces[0]!.boundingBox;
    const left = b.x + Math.round(b.width * 0.05);
    const top = b.y + Math.round(b.height * 0.05);
    const cut = await sharp(sample(1)).extract({ left, top, width: 1920 - left, height: 1280 - top }).jpeg({ quality: 95 }).toBuffer();
    const original = await engine.embed(sample(1), 3);
    const edge = await engine.embed(cut, 10);
    // The only face left; its FaceRes square (1.2x the box's longest side, centred) starts left of the image.
    expect(edge.faces).toHaveLength(1);
    const atEdge = edge.faces[0];
    const eb = atEdge!.face.boundingBox;
    expect(eb.x + eb.width / 2 - (FACERES_CROP_SCALE / 2) * Math.max(eb.width, eb.height)).toBeLessThan(0);
    // WHEN embedded THEN a finite unit-length vector, still the same person (measured cosine 0.879, score 95)
    expect(atEdge!.embedding).toHaveLength(EMBEDDING_DIMENSION);
    expect(atEdge!.embedding.every(Number.isFinite)).toBe(true);
    expect(Math.abs(norm(atEdge!.embedding) - 1)).toBeLessThan(1e-6);
    expect(scoreEmbeddings(table, original.faces[0]!.embedding, atEdge!.embedding)).toBeGreaterThanOrEqual(85);
  });

  it('leaves no tensors behind', async () => {
    const before = liveTensorCount();
    await engine.detect(sample(1), 10);
    await engine.embed(sample(1), 10);
    await engine.embed(await sharp(sample(1)).resize(800).jpeg().toBuffer(), 10);
    await engine.detect(await greyPng(), 1);
    await expect(engine.detect(fakeJpeg(), 1)).rejects.toThrow();
    expect(liveTensorCount()).toBe(before);
  });
});

describe('queue', () => {
  it('serialises requests and refuses those beyond maxWaiting with a 503 and Retry-After: 1', async () => {
    const small = await createEngine({ maxWaiting: 2 });
    await small.ready;
    const grey = await greyPng(320, 240);
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => small.detect(grey, 1)));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(2);
    const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(rejected).toHaveLength(3);
    for (const r of rejected) {
      expect(r.reason).toMatchObject({ kind: 'service-unavailable', status: 503, headers: { 'Retry-After': '1' } });
    }
    // The line drains: a later request is served.
    await expect(small.detect(grey, 1)).resolves.toEqual({ faces: [], unprocessedFaceCount: 0 });
  });
});
