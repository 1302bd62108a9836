/**
 * The embedded open-source face engine: face-api's SSD MobileNet v1 detector,
 * 68-point landmark net and 128-d recognition net on tfjs WASM. It answers in the
 * shapes of the vendor container's detect-faces and get-face-embeddings; its
 * embeddings are its own (another model), never comparable with the vendor's.
 *
 * Speed/accuracy choices (measured on face-api's six 1920-px sample photos,
 * see local/engine/README.md and scripts/bench/engine.ts):
 * - detection runs on a copy scaled to at most 640 px a side: face-api's SSD
 *   resizes every input to 512x512 anyway, so a full-resolution tensor only
 *   costs decode/pad/resize time and finds the same faces;
 * - landmarks and the descriptor run on a crop around each face taken from the
 *   full-resolution frame, scaled so the face is at most 300 px (the nets
 *   look at 112 px and 150 px).
 */
import type { FaceLandmarks68 } from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { ApiError } from '../../lambda/shared/problem.js';
import { boxArea, cropRegion, toPixelBox, type PixelBox } from './geometry.js';
import { cropFrame, decodeImage, type RgbFrame } from './image.js';
import { SerialQueue } from './queue.js';
import { loadFaceApi, type FaceApi, type RuntimeInfo } from './runtime.js';

/** One detected face, as in the contract's `faces[]` (detect-faces) and `faces[].face` (embeddings). */
export interface DetectedFace {
  /** Detector score in [0, 1], 4 decimals. */
  readonly confidence: number;
  readonly boundingBox: PixelBox;
}

export interface DetectResult {
  /** Largest (box area) first, at most `maxFaceCount`. */
  readonly faces: DetectedFace[];
  /** Faces found but not returned because of `maxFaceCount`. */
  readonly unprocessedFaceCount: number;
}

export interface EmbedResult {
  readonly faces: { readonly face: DetectedFace; readonly embedding: number[] }[];
  readonly unprocessedFaceCount: number;
}

export interface EngineOptions {
  /** Longest side (px) of the downscaled copy the detector sees. @default 640 */
  readonly detectMaxSide?: number;
  /** Longest side (px) a face is scaled down to before landmarks and descriptor; `Infinity` keeps full resolution. @default 300 */
  readonly embedFaceSide?: number;
  /** Context kept around a face for landmarks/alignment, as a fraction of its box's longest side. @default 0.5 */
  readonly cropMargin?: number;
  /** Detector score below which a candidate is not a face (face-api's default). @default 0.5 */
  readonly minConfidence?: number;
  /** Requests allowed to wait behind the running one; more get a 503 with `Retry-After: 1`. @default 16 */
  readonly maxWaiting?: number;
}

export interface FaceEngine {
  /** Resolves when the warm-up inference has run (requests made earlier wait for it). */
  readonly ready: Promise<void>;
  /** Versions, backend and the measured model-load time; `warmUpMs` once `ready` has resolved. */
  readonly info: RuntimeInfo & { warmUpMs?: number };
  /** Finds faces; boxes are integer pixels of the displayed (EXIF-rotated) image, largest first. */
  detect(bytes: Buffer, maxFaceCount: number): Promise<DetectResult>;
  /** Finds faces and returns a unit-length 128-d embedding for each returned face. */
  embed(bytes: Buffer, maxFaceCount: number): Promise<EmbedResult>;
  /** Jobs waiting behind the running one (for tests and health output). */
  readonly waiting: number;
}

/** The embedding length of face-api's recognition net. */
export const EMBEDDING_DIMENSION = 128;

interface Located {
  readonly width: number;
  readonly height: number;
  readonly faces: { readonly score: number; readonly box: PixelBox }[];
}

function checkMaxFaceCount(maxFaceCount: number): void {
  if (!Number.isInteger(maxFaceCount) || maxFaceCount < 1 || maxFaceCount > 10) {
    throw new ApiError('validation-error', 'maxFaceCount: must be an integer from 1 to 10', {
      errors: [{ field: 'maxFaceCount', reason: 'must be an integer from 1 to 10' }],
    });
  }
}

const round4 = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 1e4) / 1e4;

/**
 * Loads the models (about 0.2 s) and starts the warm-up in the background;
 * resolves as soon as the models are loaded, so a server can listen while the
 * first inference (slower: WASM memory growth, XNNPACK operator set-up) runs.
 */
export async function createEngine(options: EngineOptions = {}): Promise<FaceEngine> {
  const detectMaxSide = options.detectMaxSide ?? 640;
  const embedFaceSide = options.embedFaceSide ?? 300;
  const cropMargin = options.cropMargin ?? 0.5;
  const minConfidence = options.minConfidence ?? 0.5;
  const { faceapi, info: runtimeInfo } = await loadFaceApi();
  const ssdOptions = new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults: 100 });
  const queue = new SerialQueue(options.maxWaiting ?? 16);
  const info: RuntimeInfo & { warmUpMs?: number } = { ...runtimeInfo };

  const toTensor = (frame: RgbFrame) =>
    faceapi.tf.tensor3d(new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.length), [frame.height, frame.width, 3], 'int32');

  async function locate(bytes: Buffer): Promise<Located> {
    const image = await decodeImage(bytes, detectMaxSide);
    const input = toTensor(image.frame);
    try {
      const detections = await faceapi.nets.ssdMobilenetv1.locateFaces(input, ssdOptions);
      const faces = detections
        .map((d) => ({ score: round4(d.score), box: toPixelBox(d.relativeBox, image.width, image.height) }))
        .sort((a, b) => boxArea(b.box) - boxArea(a.box) || b.score - a.score);
      return { width: image.width, height: image.height, faces };
    } finally {
      input.dispose();
    }
  }

  /** Landmarks -> dlib-style aligned box -> descriptor, as face-api's withFaceDescriptors does, on one face crop. */
  async function describe(crop: RgbFrame, boxInCrop: { x: number; y: number; width: number; height: number }, score: number): Promise<number[]> {
    const tensor = toTensor(crop);
    const disposables: { dispose(): void }[] = [tensor];
    try {
      const detection = new faceapi.FaceDetection(
        score,
        new faceapi.Rect(boxInCrop.x / crop.width, boxInCrop.y / crop.height, boxInCrop.width / crop.width, boxInCrop.height / crop.height),
        { width: crop.width, height: crop.height },
      );
      // extractFaceTensors drops boxes that round to 0 px; the whole crop then stands in (never seen with SSD boxes).
      const [faceTensor] = await faceapi.extractFaceTensors(tensor, [detection]);
      if (faceTensor) disposables.push(faceTensor);
      const landmarks = (await faceapi.nets.faceLandmark68Net.detectLandmarks(faceTensor ?? tensor)) as FaceLandmarks68;
      const withLandmarks = faceapi.extendWithFaceLandmarks(faceapi.extendWithFaceDetection({}, detection), landmarks);
      const aligned = withLandmarks.landmarks.align(null, { useDlibAlignment: true });
      const alignedRect =
        aligned.width >= 1 && aligned.height >= 1 ? new faceapi.Rect(aligned.x, aligned.y, aligned.width, aligned.height) : detection;
      const [alignedTensor] = await faceapi.extractFaceTensors(tensor, [alignedRect]);
      if (alignedTensor) disposables.push(alignedTensor);
      const descriptor = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(alignedTensor ?? tensor)) as Float32Array;
      return normalise(descriptor);
    } finally {
      for (const d of disposables) d.dispose();
    }
  }

  async function embedFaces(bytes: Buffer, maxFaceCount: number): Promise<EmbedResult> {
    // Decode the full frame on sharp's threads while the detector runs on this one.
    const full = decodeImage(bytes);
    full.catch(() => undefined); // awaited below; locate() reports a bad image first
    const located = await locate(bytes);
    const kept = located.faces.slice(0, maxFaceCount);
    const unprocessedFaceCount = located.faces.length - kept.length;
    const { frame } = await full;
    const crops = await Promise.all(
      kept.map(async ({ box }) => {
        // Boxes are in displayed-image pixels; the full frame has exactly those dimensions.
        const region = cropRegion(box, cropMargin, frame.width, frame.height);
        const scale = Math.min(1, embedFaceSide / Math.max(box.width, box.height));
        const outW = Math.max(1, Math.round(region.width * scale));
        const outH = Math.max(1, Math.round(region.height * scale));
        const crop = await cropFrame(frame, { left: region.x, top: region.y, width: region.width, height: region.height }, outW, outH);
        const sx = outW / region.width;
        const sy = outH / region.height;
        const boxInCrop = { x: (box.x - region.x) * sx, y: (box.y - region.y) * sy, width: box.width * sx, height: box.height * sy };
        return { crop, boxInCrop };
      }),
    );
    const faces: EmbedResult['faces'] = [];
    for (const [i, { score, box }] of kept.entries()) {
      const { crop, boxInCrop } = crops[i]!;
      faces.push({ face: { confidence: score, boundingBox: box }, embedding: await describe(crop, boxInCrop, score) });
    }
    return { faces, unprocessedFaceCount };
  }

  async function warmUp(): Promise<void> {
    const started = performance.now();
    // Shapes the nets really see: SSD 512x512 (it resizes), landmarks 112, descriptor 150.
    const blank = faceapi.tf.zeros([512, 512, 3], 'int32') as ReturnType<typeof toTensor>;
    const face = faceapi.tf.zeros([150, 150, 3], 'int32') as ReturnType<typeof toTensor>;
    try {
      await faceapi.nets.ssdMobilenetv1.locateFaces(blank, ssdOptions);
      await faceapi.nets.faceLandmark68Net.detectLandmarks(face);
      await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(face);
    } finally {
      blank.dispose();
      face.dispose();
    }
    info.warmUpMs = performance.now() - started;
  }

  const ready = queue.run(warmUp);
  // Callers await `ready` themselves; this only keeps a failed warm-up from crashing the process.
  ready.catch(() => undefined);

  return {
    ready,
    info,
    get waiting() {
      return queue.waiting;
    },
    async detect(bytes, maxFaceCount) {
      checkMaxFaceCount(maxFaceCount);
      const located = await queue.run(() => locate(bytes));
      const faces = located.faces.slice(0, maxFaceCount).map(({ score, box }) => ({ confidence: score, boundingBox: box }));
      return { faces, unprocessedFaceCount: located.faces.length - faces.length };
    },
    async embed(bytes, maxFaceCount) {
      checkMaxFaceCount(maxFaceCount);
      return queue.run(() => embedFaces(bytes, maxFaceCount));
    },
  };
}

/** Scales a descriptor to unit length (all zeros stays all zeros). */
export function normalise(v: ArrayLike<number>): number[] {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = norm > 0 ? v[i]! / norm : 0;
  return out;
}
