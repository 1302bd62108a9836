/**
 * The embedded open-source face engine: face-api's SSD MobileNet v1 detector and
 * the HSE FaceRes recognition net shipped with @vladmandic/human (1024-d
 * embeddings) on tfjs WASM. It answers in the shapes of the vendor container's
 * detect-faces and get-face-embeddings; its embeddings are its own (another
 * model), never comparable with the vendor's. FaceRes replaced face-api's 128-d
 * net, which scored different people in one photo up to 82 (issue 13; evidence
 * in local/engine/README.md, `npm run engine:scores`).
 *
 * Speed/accuracy choices (measured on face-api's six 1920-px sample photos,
 * see local/engine/README.md and scripts/bench/engine.ts):
 * - detection runs face-api's SSD weights through ssd.ts: at face-api's scale
 *   (longest side 512 px) but on a canvas cut to the image (multiples of 128 px)
 *   instead of a 512x512 square, with fused kernels; images over 1024 px are
 *   decoded straight to that scale by sharp (JPEG shrink-on-load), smaller ones
 *   are decoded whole and scaled with tfjs' bilinear resize, as face-api does;
 * - FaceRes looks at a 224 px square: the detector box's longest side grown to
 *   1.2x around its centre (FACERES_CROP_SCALE), cut from the full-resolution
 *   frame, black where it leaves the image.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceLandmarks68 } from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { ApiError } from '../../lambda/shared/problem.js';
import { boxArea, cropRegion, toPixelBox, type PixelBox } from './geometry.js';
import { cropFrame, openImage, type OpenedImage, type RgbFrame } from './image.js';
import { SerialQueue } from './queue.js';
import { loadFaceApi, loadFaceApiRecognition, type RuntimeInfo } from './runtime.js';
import { canvasFromFull, canvasFromScaled, createSsdDetector, planCanvas } from './ssd.js';

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

/** The recognition nets the engine can run (face-api's only for comparison; see local/engine/README.md). */
export type RecognitionModel = 'faceres' | 'face-api';

export interface EngineOptions {
  /**
   * Recognition net: HSE FaceRes (1024-d) or face-api's 128-d net, which cannot tell
   * different people apart reliably (kept for the score evidence's comparison; the
   * score table belongs to FaceRes).
   * @default 'faceres'
   */
  readonly recognition?: RecognitionModel;
  /** FaceRes only: side of the square crop around a face, as a multiple of the detector box's longest side. @default FACERES_CROP_SCALE */
  readonly faceresCropScale?: number;
  /** face-api recognition only: longest side (px) a face is scaled down to before landmarks and descriptor; `Infinity` keeps full resolution. @default 300 */
  readonly embedFaceSide?: number;
  /** face-api recognition only: context kept around a face for landmarks/alignment, as a fraction of its box's longest side. @default 0.5 */
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
  /** Finds faces and returns a unit-length embedding for each returned face (EMBEDDING_DIMENSIONS[recognition] numbers). */
  embed(bytes: Buffer, maxFaceCount: number): Promise<EmbedResult>;
  /** Jobs waiting behind the running one (for tests and health output). */
  readonly waiting: number;
  /**
   * True when a new job would be refused at once (every worker busy, the waiting line full):
   * the server then answers 503 before reading the request body. Absent: never known in advance.
   */
  readonly full?: boolean;
}

/** Embedding length per recognition net: FaceRes's `global_pooling/Mean` output, face-api's descriptor. */
export const EMBEDDING_DIMENSIONS: Readonly<Record<RecognitionModel, number>> = { faceres: 1024, 'face-api': 128 };

/** The embedding length of the default recognition net (FaceRes). */
export const EMBEDDING_DIMENSION = EMBEDDING_DIMENSIONS.faceres;

/** FaceRes's input side (px), from its graph's input shape [n, 224, 224, 3]. */
export const FACERES_INPUT_SIDE = 224;

/**
 * FaceRes's crop: the box's longest side times this, centred on the box. @vladmandic/human
 * uses 1.4 around its blazeface box (config.face.detector.scale + squarifyBox); around face-api's
 * SSD box the shipped photos separate better at 1.1-1.2 (`npm run engine:scores -- --crop-scale`:
 * gap between lowest genuine and highest impostor cosine 0.243 at 1.1, 0.236 at 1.2, 0.191 at 1.4),
 * and 1.2 keeps the better genuine tail (5th percentile 0.885 against 0.875 at 1.1).
 */
export const FACERES_CROP_SCALE = 1.2;

/**
 * Images up to this many pixels a side are decoded whole and scaled for the detector
 * with tfjs' bilinear resize, the pixels face-api itself would use (cheap at this size,
 * and it matched face-api's boxes better on enlarged face crops than sharp's Lanczos);
 * larger ones are decoded straight to the detector's scale (JPEG shrink-on-load).
 */
export const FULL_DECODE_MAX_SIDE = 1024;

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
  const recognition = options.recognition ?? 'faceres';
  const faceresCropScale = options.faceresCropScale ?? FACERES_CROP_SCALE;
  const embedFaceSide = options.embedFaceSide ?? 300;
  const cropMargin = options.cropMargin ?? 0.5;
  const minConfidence = options.minConfidence ?? 0.5;
  const { faceapi, faceres, info: runtimeInfo } = await loadFaceApi();
  if (recognition === 'face-api') await loadFaceApiRecognition();
  const detector = createSsdDetector(faceapi);
  const queue = new SerialQueue(options.maxWaiting ?? 16);
  const info: RuntimeInfo & { warmUpMs?: number } = { ...runtimeInfo };

  const toTensor = (frame: RgbFrame) =>
    faceapi.tf.tensor3d(new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.length), [frame.height, frame.width, 3], 'int32');

  /** The detector's input for an opened image: the full frame when it is small (reused for embeddings), else a scaled copy. */
  async function detectorFrame(image: OpenedImage): Promise<{ frame: RgbFrame; full: boolean }> {
    if (Math.max(image.width, image.height) <= FULL_DECODE_MAX_SIDE) return { frame: await image.decode(), full: true };
    const plan = planCanvas(image.width, image.height);
    return { frame: await image.decode({ width: plan.contentWidth, height: plan.contentHeight }), full: false };
  }

  /** Runs the detector on a frame from detectorFrame(); boxes in pixels of the displayed image, largest first. */
  function locate(image: OpenedImage, { frame, full }: { frame: RgbFrame; full: boolean }): Located {
    const plan = planCanvas(image.width, image.height);
    const canvas = full ? canvasFromFull(frame, plan) : canvasFromScaled(frame, plan);
    try {
      // maxResults 100: face-api's default; the contract returns at most 10, the rest only counts.
      const detections = detector.detect(canvas, minConfidence, 100);
      const faces = detections
        .map((d) => {
          // Canvas px -> fractions of the content (the scaled image), as face-api's relative boxes.
          const x1 = Math.max(0, d.x1);
          const y1 = Math.max(0, d.y1);
          const relative = { x: x1 / plan.contentWidth, y: y1 / plan.contentHeight, width: (d.x2 - x1) / plan.contentWidth, height: (d.y2 - y1) / plan.contentHeight };
          return { score: round4(d.score), box: toPixelBox(relative, image.width, image.height) };
        })
        .sort((a, b) => boxArea(b.box) - boxArea(a.box) || b.score - a.score);
      return { width: image.width, height: image.height, faces };
    } finally {
      canvas.dispose();
    }
  }

  /** Landmarks -> dlib-style aligned box -> descriptor, as face-api's withFaceDescriptors does, on one face crop. */
  async function describeFaceApi(crop: RgbFrame, boxInCrop: { x: number; y: number; width: number; height: number }, score: number): Promise<number[]> {
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

  /**
   * FaceRes on one face: the FACERES_CROP_SCALE square around the box, cut from the frame (the part
   * inside the image scaled by sharp, the rest black, as tfjs cropAndResize pads),
   * RGB 0..255 as @vladmandic/human feeds it (faceres.ts enhance: 0..1 input times 255).
   */
  async function describeFaceres(frame: RgbFrame, box: PixelBox): Promise<number[]> {
    const side = Math.max(box.width, box.height) * faceresCropScale;
    const scale = FACERES_INPUT_SIDE / side;
    const x0 = box.x + box.width / 2 - side / 2;
    const y0 = box.y + box.height / 2 - side / 2;
    const left = Math.max(0, Math.floor(x0));
    const top = Math.max(0, Math.floor(y0));
    const right = Math.min(frame.width, Math.ceil(x0 + side));
    const bottom = Math.min(frame.height, Math.ceil(y0 + side));
    // Where the visible part lands in the 224 px square, and its size there (at least 1 px).
    const padLeft = Math.min(FACERES_INPUT_SIDE - 1, Math.round((left - x0) * scale));
    const padTop = Math.min(FACERES_INPUT_SIDE - 1, Math.round((top - y0) * scale));
    const outW = Math.max(1, Math.min(FACERES_INPUT_SIDE - padLeft, Math.round((right - left) * scale)));
    const outH = Math.max(1, Math.min(FACERES_INPUT_SIDE - padTop, Math.round((bottom - top) * scale)));
    const crop = await cropFrame(frame, { left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) }, outW, outH);
    // @tensorflow/tfjs is the module face-api's node-wasm build requires, so one tfjs engine runs both.
    const descriptor = tf.tidy(() => {
      const pixels = tf.tensor3d(new Uint8Array(crop.data.buffer, crop.data.byteOffset, crop.data.length), [crop.height, crop.width, 3], 'int32').toFloat();
      const input = tf
        .pad(pixels, [
          [padTop, FACERES_INPUT_SIDE - padTop - outH],
          [padLeft, FACERES_INPUT_SIDE - padLeft - outW],
          [0, 0],
        ])
        .expandDims(0);
      const outputs = faceres.execute(input) as tf.Tensor[];
      // Outputs: gender [1, 1], age [1, 100], descriptor [1, 1024]; picked by shape as human's faceres.ts does.
      return outputs.find((t) => t.shape[1] === EMBEDDING_DIMENSIONS.faceres)!.reshape([-1]);
    });
    try {
      return normalise(await descriptor.data());
    } finally {
      descriptor.dispose();
    }
  }

  async function embedFaces(bytes: Buffer, maxFaceCount: number): Promise<EmbedResult> {
    const image = await openImage(bytes);
    // A large image's full frame decodes on sharp's thread while the detector runs on this one.
    const full = Math.max(image.width, image.height) > FULL_DECODE_MAX_SIDE ? image.decode() : undefined;
    full?.catch(() => undefined); // awaited below; the detector's decode reports a bad image first
    const input = await detectorFrame(image);
    const located = locate(image, input);
    const kept = located.faces.slice(0, maxFaceCount);
    const unprocessedFaceCount = located.faces.length - kept.length;
    if (kept.length === 0) return { faces: [], unprocessedFaceCount };
    const frame = full ? await full : input.frame;
    if (recognition === 'faceres') {
      const faces: EmbedResult['faces'] = [];
      for (const { score, box } of kept) faces.push({ face: { confidence: score, boundingBox: box }, embedding: await describeFaceres(frame, box) });
      return { faces, unprocessedFaceCount };
    }
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
      faces.push({ face: { confidence: score, boundingBox: box }, embedding: await describeFaceApi(crop, boxInCrop, score) });
    }
    return { faces, unprocessedFaceCount };
  }

  async function warmUp(): Promise<void> {
    const started = performance.now();
    // Shapes the nets really see: a 3:2 photo's 512x384 canvas; FaceRes 224 (face-api: landmarks 112, descriptor 150).
    const blank = canvasFromScaled({ data: Buffer.alloc(512 * 384 * 3), width: 512, height: 384 }, planCanvas(512, 384));
    const face = faceapi.tf.zeros([150, 150, 3], 'int32') as ReturnType<typeof toTensor>;
    try {
      detector.detect(blank, minConfidence, 100);
      if (recognition === 'faceres') {
        await describeFaceres({ data: Buffer.alloc(224 * 224 * 3), width: 224, height: 224 }, { x: 32, y: 32, width: 160, height: 160 });
      } else {
        await faceapi.nets.faceLandmark68Net.detectLandmarks(face);
        await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(face);
      }
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
      const located = await queue.run(async () => {
        const image = await openImage(bytes);
        return locate(image, await detectorFrame(image));
      });
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
