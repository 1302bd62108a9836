/**
 * Pins the score evidence of issue 13 with the real engine (FaceRes) and the shipped
 * score table: no two different people of face-api's six sample photos reach 70, and the
 * same face after a realistic change stays well above it. `npm run engine:scores` covers
 * every shipped photo and every transform; this runs the six originals and a subset of
 * transforms (about 30 s on 2 cores).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, EMBEDDING_DIMENSION, type FaceEngine } from '../../../local/engine/engine.js';
import { FACE_API_DIR } from '../../../local/engine/runtime.js';
import {
  collectEvidence,
  impostorPairs,
  matchFaces,
  summarise,
  TRANSFORMS,
  type EmbeddedFace,
  type Embedder,
  type Evidence,
} from '../../../local/engine/score-evidence.js';
import { loadEngineScoreTable } from '../../../local/engine/score.js';
import { scoreEmbeddings, scoreForCosine } from '../../../lambda/shared/score-table.js';

const table = loadEngineScoreTable();
const samples = [1, 2, 3, 4, 5, 6].map((n) => path.join(FACE_API_DIR, 'demo', `sample${n}.jpg`));
let engine: FaceEngine;
const embed: Embedder = async (bytes) => {
  const r = await engine.embed(bytes, 10);
  return { faces: r.faces.map((f) => ({ boundingBox: f.face.boundingBox, embedding: f.embedding })), unprocessedFaceCount: r.unprocessedFaceCount };
};

beforeAll(async () => {
  engine = await createEngine();
  await engine.ready;
});

describe('score evidence with the real engine', () => {
  let impostorsOnly: Evidence;

  beforeAll(async () => {
    impostorsOnly = await collectEvidence(samples, embed, { transforms: [] });
  }, 120_000);

  it('GIVEN the 22 faces of the six samples WHEN every pair within one photo is scored THEN none reaches 70 (face-api 128-d: 5 of 31 did, up to 82)', () => {
    expect(impostorsOnly.photos.every((p) => p.used)).toBe(true);
    expect(impostorsOnly.faceCount).toBe(22);
    expect(impostorsOnly.impostors).toHaveLength(31);
    const scores = impostorsOnly.impostors.map((p) => scoreForCosine(table, p.cosine));
    // Measured (npm run engine:scores): impostor cosine max 0.5987 -> score 53; 70 needs 0.71.
    expect(Math.max(...scores)).toBeLessThan(70);
    expect(summarise(impostorsOnly.impostors.map((p) => p.cosine)).max).toBeLessThan(0.65);
  });

  it("GIVEN sample4's faces 0 and 3 (two different women the issue saw score 82) WHEN compared THEN the score is far below 70", async () => {
    const r = await engine.embed(readFileSync(samples[3]!), 10);
    expect(r.faces).toHaveLength(4);
    expect(r.faces[0]!.embedding).toHaveLength(EMBEDDING_DIMENSION);
    expect(scoreEmbeddings(table, r.faces[0]!.embedding, r.faces[3]!.embedding)).toBeLessThan(60);
  });

  it('GIVEN samples 1 and 4 re-encoded at JPEG quality 30, resized to 1/3 and rotated 7 degrees WHEN each face is compared with itself THEN all score >= 90 and the weakest sits >= 0.2 cosine above the strongest impostor', async () => {
    const subset = TRANSFORMS.filter((t) => ['jpeg-q30', 'resize-1/3', 'rotate-7'].includes(t.name));
    const ev = await collectEvidence([samples[0]!, samples[3]!], embed, { transforms: subset });
    // 3 + 4 faces, 3 transforms each, every face found again.
    expect(ev.unmatched).toEqual([]);
    expect(ev.genuine).toHaveLength(21);
    // Measured over all 22 faces: cosines >= 0.9725 (q30), 0.9669 (1/3), 0.9428 (rotate), all scoring 100; 90 leaves room for noise.
    const scores = ev.genuine.map((g) => scoreForCosine(table, g.cosine));
    expect(Math.min(...scores)).toBeGreaterThanOrEqual(90);
    const impostorMax = summarise(impostorsOnly.impostors.map((p) => p.cosine)).max;
    expect(summarise(ev.genuine.map((g) => g.cosine)).min - impostorMax).toBeGreaterThan(0.2);
  }, 120_000);
});

describe('pair building', () => {
  const face = (x: number, y: number, size = 100, embedding: number[] = [1, 0]): EmbeddedFace => ({ boundingBox: { x, y, width: size, height: size }, embedding });

  it('GIVEN 4 faces in one photo and 1 in another WHEN impostor pairs are built THEN only the 6 within-photo pairs exist', () => {
    const photos = [
      { file: 'a', width: 1000, height: 1000, unprocessedFaceCount: 0, faces: [face(0, 0), face(200, 0), face(400, 0), face(600, 0, 100, [0, 1])] },
      { file: 'b', width: 1000, height: 1000, unprocessedFaceCount: 0, faces: [face(0, 0)] },
    ];
    const pairs = impostorPairs(photos);
    expect(pairs.map((p) => `${p.photo}${p.a}${p.b}`)).toEqual(['a01', 'a02', 'a03', 'a12', 'a13', 'a23']);
    expect(pairs.find((p) => p.a === 0 && p.b === 3)!.cosine).toBeCloseTo(0, 12);
    expect(pairs.find((p) => p.a === 0 && p.b === 1)!.cosine).toBeCloseTo(1, 12);
  });

  it('GIVEN a mirrored photo WHEN faces are matched by mapped box centre THEN each finds its mirror twin, and a face with nothing near stays unmatched', () => {
    const original = [face(100, 100), face(700, 100), face(400, 600)];
    // Mirror of a 1000 px wide photo: x' = 1000 - x - width; the third face is gone.
    const mirrored = [face(200, 105), face(800, 98)];
    const map = (x: number, y: number): [number, number] => [1000 - x, y];
    expect(matchFaces(original, mirrored, { map, scale: 1 })).toEqual([1, 0, undefined]);
  });

  it('GIVEN two original faces mapping near one transformed face WHEN matched THEN only the nearer one takes it', () => {
    const original = [face(100, 100), face(115, 100)];
    const moved = [face(112, 100)];
    expect(matchFaces(original, moved, { map: (x, y) => [x, y], scale: 1 })).toEqual([undefined, 0]);
  });

  it('summarises with nearest-rank percentiles', () => {
    const s = summarise(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(s).toEqual({ count: 100, min: 1, p5: 5, p25: 25, median: 50, p75: 75, p95: 95, max: 100 });
    expect(summarise([]).count).toBe(0);
  });
});
