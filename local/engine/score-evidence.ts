/**
 * Evidence for the embedded engine's score table (issue 13, point 3): impostor and
 * genuine pairs built from the photos that ship with the installed npm packages.
 *
 * - impostor pairs: every pair of different faces detected within one photo (a
 *   photo shows each person once, so these are always two different people);
 * - genuine pairs: each face against the same face in a transformed copy of its
 *   photo (low-quality JPEG, 1/3 size, mirror, small rotation, brightness/contrast,
 *   crop shift), matched by mapping the face's box centre through the transform.
 *
 * Used by `npm run engine:scores` (all photos, all transforms) and by
 * test/local/engine/score-evidence.test.ts (a subset, to keep it fast).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { PixelBox } from './geometry.js';

/** A face as the engine returns it from get-face-embeddings. */
export interface EmbeddedFace {
  readonly boundingBox: PixelBox;
  readonly embedding: readonly number[];
}

/** What the evidence needs from an engine: faces and embeddings of an image (at most 10, the contract's limit). */
export type Embedder = (bytes: Buffer) => Promise<{ faces: EmbeddedFace[]; unprocessedFaceCount: number }>;

/** A transformed copy of a photo and where a point of the original lands in it. */
export interface Transformed {
  readonly bytes: Buffer;
  /** Maps a point (px) of the original photo into the transformed one. */
  readonly map: (x: number, y: number) => [number, number];
  /** Factor by which lengths change (for the match radius). */
  readonly scale: number;
}

/** A realistic change of a photo (issue 13: "the same face under realistic changes"). */
export interface Transform {
  readonly name: string;
  readonly describe: string;
  apply(bytes: Buffer, width: number, height: number): Promise<Transformed>;
}

const identity = (x: number, y: number): [number, number] => [x, y];
const jpeg = (s: ReturnType<typeof sharp>, quality = 90) => s.jpeg({ quality }).toBuffer();

/** Rotation angle of the `rotate` transform, degrees clockwise. */
export const ROTATION_DEGREES = 7;

/** The transforms, each re-encoded as JPEG (quality 90 unless the transform is the quality). */
export const TRANSFORMS: readonly Transform[] = [
  { name: 'jpeg-q30', describe: 'JPEG re-encoded at quality 30', apply: async (b) => ({ bytes: await jpeg(sharp(b), 30), map: identity, scale: 1 }) },
  {
    name: 'resize-1/3',
    describe: 'resized to 1/3 of its width and height',
    apply: async (b, w, h) => {
      const nw = Math.round(w / 3);
      const nh = Math.round(h / 3);
      return { bytes: await jpeg(sharp(b).resize(nw, nh, { fit: 'fill' })), map: (x, y) => [(x * nw) / w, (y * nh) / h], scale: nw / w };
    },
  },
  { name: 'mirror', describe: 'mirrored left-right', apply: async (b, w) => ({ bytes: await jpeg(sharp(b).flop()), map: (x, y) => [w - x, y], scale: 1 }) },
  {
    name: `rotate-${ROTATION_DEGREES}`,
    describe: `rotated ${ROTATION_DEGREES} degrees clockwise (canvas grown, grey corners)`,
    apply: async (b, w, h) => {
      const { data, info } = await sharp(b).rotate(ROTATION_DEGREES, { background: '#808080' }).jpeg({ quality: 90 }).toBuffer({ resolveWithObject: true });
      const a = (ROTATION_DEGREES * Math.PI) / 180;
      const [cx, cy, ncx, ncy] = [w / 2, h / 2, info.width / 2, info.height / 2];
      // Image y points down, so a clockwise turn on screen is the usual rotation matrix.
      return { bytes: data, map: (x, y) => [ncx + (x - cx) * Math.cos(a) - (y - cy) * Math.sin(a), ncy + (x - cx) * Math.sin(a) + (y - cy) * Math.cos(a)], scale: 1 };
    },
  },
  {
    name: 'brighter-contrast',
    describe: 'contrast x1.3 around mid-grey, brightness +15',
    apply: async (b) => ({ bytes: await jpeg(sharp(b).linear(1.3, 128 * (1 - 1.3) + 15)), map: identity, scale: 1 }),
  },
  { name: 'darker', describe: 'brightness x0.6', apply: async (b) => ({ bytes: await jpeg(sharp(b).linear(0.6, 0)), map: identity, scale: 1 }) },
  {
    name: 'crop-shift',
    describe: 'cropped: 7 % off the left and top, 3 % off the right and bottom',
    apply: async (b, w, h) => {
      const left = Math.round(w * 0.07);
      const top = Math.round(h * 0.07);
      const width = Math.round(w * 0.9);
      const height = Math.round(h * 0.9);
      return { bytes: await jpeg(sharp(b).extract({ left, top, width, height })), map: (x, y) => [x - left, y - top], scale: 1 };
    },
  },
];

/** A photo found in node_modules and whether the evidence uses it. */
export interface PhotoCandidate {
  readonly file: string;
  readonly used: boolean;
  /** Why it is skipped, or a note about a used photo. */
  readonly reason: string;
}

/**
 * Photos in node_modules that are not photographs of distinct people: collages and
 * screenshots of face-matching demos, where the same person appears several times
 * (so "two faces in one photo are two people" does not hold). Matched on the path's end.
 */
export const NOT_DISTINCT_PEOPLE: readonly { readonly suffix: string; readonly why: string }[] = [
  { suffix: '@vladmandic/human/assets/samples.jpg', why: 'collage: thumbnails of photos that also appear full size' },
  { suffix: '@vladmandic/human/assets/screenshot-facematch.jpg', why: 'screenshot of a face-matching demo: the same faces repeated' },
  { suffix: '@vladmandic/human/assets/screenshot-facedetect.jpg', why: 'screenshot: group-photo thumbnails plus enlarged crops of the same faces' },
  { suffix: '@vladmandic/human/assets/screenshot-vrm.jpg', why: 'screenshot: a cartoon avatar driven by the webcam user shown beside it' },
  { suffix: '@vladmandic/face-api/demo/screenshot-images.png', why: 'screenshot of the demo page: the sample photos again' },
  { suffix: '@vladmandic/face-api/demo/screenshot-webcam.png', why: 'screenshot of the webcam demo' },
];

/** Every .jpg/.jpeg/.png under `root` (node_modules), sorted; symlinks are not followed. */
export function findImageFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.(jpe?g|png)$/i.test(e.name)) out.push(p);
    }
  };
  walk(root);
  return out.sort();
}

/** One photo's faces: the original's and, per transform, the transformed copy's. */
export interface PhotoFaces {
  readonly file: string;
  readonly width: number;
  readonly height: number;
  readonly faces: EmbeddedFace[];
  readonly unprocessedFaceCount: number;
}

export interface ImpostorPair {
  readonly photo: string;
  readonly a: number;
  readonly b: number;
  readonly cosine: number;
}

export interface GenuinePair {
  readonly photo: string;
  readonly face: number;
  readonly transform: string;
  readonly cosine: number;
}

/** A face of the original that was not found (or not uniquely found) in a transformed copy. */
export interface Unmatched {
  readonly photo: string;
  readonly face: number;
  readonly transform: string;
}

/** Cosine of two equal-length vectors (embeddings are unit length, but do not rely on it). */
export function cos(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Every pair of different faces within each photo. */
export function impostorPairs(photos: readonly PhotoFaces[]): ImpostorPair[] {
  const pairs: ImpostorPair[] = [];
  for (const p of photos) {
    for (let a = 0; a < p.faces.length; a++) {
      for (let b = a + 1; b < p.faces.length; b++) pairs.push({ photo: p.file, a, b, cosine: cos(p.faces[a]!.embedding, p.faces[b]!.embedding) });
    }
  }
  return pairs;
}

const centre = (b: PixelBox): [number, number] => [b.x + b.width / 2, b.y + b.height / 2];

/**
 * The transformed face matching each original face: the one whose centre is nearest the
 * mapped centre, within 30 % of the (scaled) box size, and not nearer to another original face.
 */
export function matchFaces(original: readonly EmbeddedFace[], transformed: readonly EmbeddedFace[], t: Pick<Transformed, 'map' | 'scale'>): (number | undefined)[] {
  const mapped = original.map((f) => t.map(...centre(f.boundingBox)));
  const dist = (p: [number, number], f: EmbeddedFace) => Math.hypot(p[0] - centre(f.boundingBox)[0], p[1] - centre(f.boundingBox)[1]);
  return original.map((f, i) => {
    let best: number | undefined;
    for (let j = 0; j < transformed.length; j++) {
      if (best === undefined || dist(mapped[i]!, transformed[j]!) < dist(mapped[i]!, transformed[best]!)) best = j;
    }
    if (best === undefined) return undefined;
    const size = Math.max(f.boundingBox.width, f.boundingBox.height) * t.scale;
    if (dist(mapped[i]!, transformed[best]!) > 0.3 * size) return undefined;
    // Unique: no other original face maps nearer to this transformed face.
    const d = dist(mapped[i]!, transformed[best]!);
    if (mapped.some((m, k) => k !== i && dist(m, transformed[best]!) < d)) return undefined;
    return best;
  });
}

/** The score distribution summary the report prints. */
export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly p5: number;
  readonly p25: number;
  readonly median: number;
  readonly p75: number;
  readonly p95: number;
  readonly max: number;
}

/** Nearest-rank percentiles of a list of numbers (NaN for an empty list). */
export function summarise(values: readonly number[]): Summary {
  const s = [...values].sort((x, y) => x - y);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! : Number.NaN);
  return { count: s.length, min: s[0] ?? Number.NaN, p5: q(5), p25: q(25), median: q(50), p75: q(75), p95: q(95), max: s[s.length - 1] ?? Number.NaN };
}

export interface Evidence {
  readonly photos: readonly PhotoCandidate[];
  readonly impostors: readonly ImpostorPair[];
  readonly genuine: readonly GenuinePair[];
  readonly unmatched: readonly Unmatched[];
  /** Faces of the used photos (originals). */
  readonly faceCount: number;
}

/**
 * Runs `embed` over the candidate files and their transformed copies and builds the pairs.
 * A file is used when the engine finds at least one face in it and it is not listed in
 * {@link NOT_DISTINCT_PEOPLE}; the candidates say why each other file was skipped.
 */
export async function collectEvidence(
  files: readonly string[],
  embed: Embedder,
  options: { transforms?: readonly Transform[]; onPhoto?: (file: string) => void } = {},
): Promise<Evidence> {
  const transforms = options.transforms ?? TRANSFORMS;
  const photos: PhotoCandidate[] = [];
  const used: PhotoFaces[] = [];
  const genuine: GenuinePair[] = [];
  const unmatched: Unmatched[] = [];
  for (const file of files) {
    options.onPhoto?.(file);
    const listed = NOT_DISTINCT_PEOPLE.find((n) => file.replaceAll('\\', '/').endsWith(n.suffix));
    if (listed) {
      photos.push({ file, used: false, reason: listed.why });
      continue;
    }
    if (statSync(file).size < 2048) {
      photos.push({ file, used: false, reason: 'under 2 kB (an icon)' });
      continue;
    }
    const bytes = readFileSync(file);
    let upright: Buffer;
    let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
    try {
      // Upright first: the engine's boxes are in displayed (EXIF-rotated) pixels, so are the transforms'.
      upright = await sharp(bytes).rotate().toBuffer();
      meta = await sharp(upright).metadata();
    } catch (error) {
      photos.push({ file, used: false, reason: `not decodable by sharp (${(error as Error).message.slice(0, 80)})` });
      continue;
    }
    {
      const result = await embed(upright);
      if (result.faces.length === 0) {
        photos.push({ file, used: false, reason: 'no face found by the detector' });
        continue;
      }
      const photo: PhotoFaces = { file, width: meta.width!, height: meta.height!, faces: result.faces, unprocessedFaceCount: result.unprocessedFaceCount };
      used.push(photo);
      photos.push({
        file,
        used: true,
        reason: `${result.faces.length} face${result.faces.length > 1 ? 's' : ''}` + (result.unprocessedFaceCount ? ` (+${result.unprocessedFaceCount} beyond the 10 per request)` : ''),
      });
      for (const t of transforms) {
        const tr = await t.apply(upright, photo.width, photo.height);
        const other = await embed(tr.bytes);
        const match = matchFaces(photo.faces, other.faces, tr);
        match.forEach((j, i) => {
          if (j === undefined) unmatched.push({ photo: file, face: i, transform: t.name });
          else genuine.push({ photo: file, face: i, transform: t.name, cosine: cos(photo.faces[i]!.embedding, other.faces[j]!.embedding) });
        });
      }
    }
  }
  return { photos, impostors: impostorPairs(used), genuine, unmatched, faceCount: used.reduce((n, p) => n + p.faces.length, 0) };
}
