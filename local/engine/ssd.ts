/**
 * Face detection with face-api's SSD MobileNet v1 weights, run by the engine
 * itself instead of `faceapi.nets.ssdMobilenetv1.locateFaces`, to do less work
 * for the same faces (measured in local/engine/README.md):
 *
 * - Same scale. The image is scaled so its longest side is 512 px, exactly as
 *   face-api does (it pads every image to a square and resizes that to
 *   512x512). Smaller scales are cheaper but lose faces: at 480 or 448 px faces
 *   face-api finds with score 0.93 dropped below 0.5.
 * - No square. The net is fully convolutional, so it runs on a canvas of the
 *   scaled image plus black padding up to the next multiple of 128 px on each
 *   side, not on 512x512: a 3:2 photo costs 512x384, 25 % fewer pixels.
 *   128 keeps every feature map down to the stride-128 layer on the same grid
 *   as face-api's canvas (each stride-2 convolution sees an even size, so its
 *   'same' padding falls below/right as in face-api); with 32 or 64 the coarse
 *   layers shifted by a cell and faces filling the frame got other boxes.
 * - Fused kernels. Batch norm is folded into the depthwise filters, and bias
 *   plus ReLU6 are fused into every convolution (tfjs' fused conv2d and
 *   depthwiseConv2d); face-api runs batchNorm, add and clipByValue as separate
 *   kernels (about 25 % of its time). Each layer's box and class heads are one
 *   convolution.
 * - Decoding and non-max suppression run in plain JS on the few candidates
 *   above the threshold, with face-api's rules (score > minConfidence, then
 *   greedy suppression of boxes overlapping a kept one with IoU > 0.5).
 *
 * The anchors are face-api's own, read from the weights (`output_layer.extra_dim`),
 * and placed on the canvas grid; on a 512x512 canvas the output equals face-api's.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceApi } from './runtime.js';
import type { RgbFrame } from './image.js';

/** face-api's SSD input side: the scale every image is brought to (longest side 512 px). */
export const SSD_INPUT_SIZE = 512;

/** Canvas sides are multiples of this, so feature maps down to stride 128 stay on face-api's grid. */
export const CANVAS_MULTIPLE = 128;

/** face-api's non-max suppression threshold (ssdMobilenetv1/SsdMobilenetv1.ts). */
const IOU_THRESHOLD = 0.5;

/** Output layers of the SSD head: stride on the canvas (px) and anchors per cell, in face-api's order. */
const LAYERS = [
  { stride: 16, anchors: 3 },
  { stride: 32, anchors: 6 },
  { stride: 64, anchors: 6 },
  { stride: 128, anchors: 6 },
  { stride: 256, anchors: 6 },
  { stride: 512, anchors: 6 },
] as const;

/** Where the scaled image sits on the canvas: its top-left corner, `contentWidth` x `contentHeight` px. */
export interface CanvasPlan {
  /** Width of the scaled image on the canvas (px). */
  readonly contentWidth: number;
  /** Height of the scaled image on the canvas (px). */
  readonly contentHeight: number;
  /** Canvas width: the content plus black padding on the right, a multiple of 128. */
  readonly width: number;
  /** Canvas height: the content plus black padding below, a multiple of 128. */
  readonly height: number;
}

/** A detection on the canvas: score and corners in canvas pixels (not clipped). */
export interface SsdDetection {
  readonly score: number;
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

/** The raw output of one head layer: `rows` x `cols` cells of `anchors` x (4 box + 3 class) numbers. */
export interface HeadOutput {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export interface SsdDetector {
  /**
   * Runs the net on a canvas (`[1, height, width, 3]`, float32 in [-1, 1]) and
   * returns the faces scoring above `minConfidence`, best first, at most `maxResults`.
   */
  detect(canvas: tf.Tensor4D, minConfidence: number, maxResults: number): SsdDetection[];
}

/**
 * The canvas for an image of `width` x `height` displayed pixels: scaled so its
 * longest side is 512 px (up or down, as face-api does), padded to multiples of 128.
 */
export function planCanvas(width: number, height: number): CanvasPlan {
  const scale = SSD_INPUT_SIZE / Math.max(width, height);
  const contentWidth = Math.min(SSD_INPUT_SIZE, Math.max(1, Math.round(width * scale)));
  const contentHeight = Math.min(SSD_INPUT_SIZE, Math.max(1, Math.round(height * scale)));
  const pad = (v: number) => Math.ceil(v / CANVAS_MULTIPLE) * CANVAS_MULTIPLE;
  return { contentWidth, contentHeight, width: pad(contentWidth), height: pad(contentHeight) };
}

/**
 * Canvas from RGB pixels already scaled to the plan's content size (sharp):
 * normalised to [-1, 1] as face-api does (x / 127.5 - 1), black (-1) padding.
 */
export function canvasFromScaled(frame: RgbFrame, plan: CanvasPlan): tf.Tensor4D {
  if (frame.width !== plan.contentWidth || frame.height !== plan.contentHeight) {
    throw new Error(`canvasFromScaled: frame is ${frame.width}x${frame.height}, plan expects ${plan.contentWidth}x${plan.contentHeight}`);
  }
  const values = new Float32Array(plan.width * plan.height * 3).fill(-1);
  const rowIn = frame.width * 3;
  const rowOut = plan.width * 3;
  for (let y = 0; y < frame.height; y++) {
    const inOffset = y * rowIn;
    const outOffset = y * rowOut;
    for (let i = 0; i < rowIn; i++) values[outOffset + i] = frame.data[inOffset + i]! / 127.5 - 1;
  }
  return tf.tensor4d(values, [1, plan.height, plan.width, 3]);
}

/**
 * Canvas from a full-resolution frame, scaled with tfjs' bilinear resize
 * (alignCorners false, no half-pixel centres): the very pixels face-api feeds its net.
 */
export function canvasFromFull(frame: RgbFrame, plan: CanvasPlan): tf.Tensor4D {
  return tf.tidy(() => {
    const image = tf.tensor3d(new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.length), [frame.height, frame.width, 3], 'int32');
    const resized = tf.image.resizeBilinear(image, [plan.contentHeight, plan.contentWidth], false, false);
    const normalised = tf.sub(tf.div(resized, 127.5), 1);
    const padded = tf.pad(normalised, [[0, plan.height - plan.contentHeight], [0, plan.width - plan.contentWidth], [0, 0]], -1);
    return tf.expandDims(padded, 0) as tf.Tensor4D;
  });
}

/**
 * Turns the head outputs into boxes (face-api's decoding: centre offsets / 10,
 * log sizes / 5, relative to the anchor) and keeps those scoring above
 * `minConfidence` after face-api's non-max suppression.
 *
 * @param anchorSizes per layer, the [height, width] of each anchor of a cell, in canvas px
 */
export function decodeDetections(heads: readonly HeadOutput[], anchorSizes: readonly (readonly (readonly [number, number])[])[], minConfidence: number, maxResults: number): SsdDetection[] {
  // score = sigmoid(logit) > minConfidence  <=>  logit > log(p / (1 - p)): no exp for the thousands of rejected anchors.
  const minLogit = Math.log(minConfidence / (1 - minConfidence));
  const candidates: SsdDetection[] = [];
  heads.forEach(({ rows, cols, data }, layer) => {
    const { stride } = LAYERS[layer]!;
    const sizes = anchorSizes[layer]!;
    const k = sizes.length;
    const perCell = k * 7;
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) {
        const cell = (row * cols + col) * perCell;
        for (let j = 0; j < k; j++) {
          // Class logits per anchor: [background, face, unused]; face-api takes index 1.
          const logit = data[cell + k * 4 + j * 3 + 1]!;
          if (!(logit > minLogit)) continue;
          const score = 1 / (1 + Math.exp(-logit));
          if (!(score > minConfidence)) continue;
          const [anchorHeight, anchorWidth] = sizes[j]!;
          const o = cell + j * 4;
          const cy = (data[o]! / 10) * anchorHeight + (row + 0.5) * stride;
          const cx = (data[o + 1]! / 10) * anchorWidth + (col + 0.5) * stride;
          const halfHeight = (Math.exp(data[o + 2]! / 5) * anchorHeight) / 2;
          const halfWidth = (Math.exp(data[o + 3]! / 5) * anchorWidth) / 2;
          candidates.push({ score, x1: cx - halfWidth, y1: cy - halfHeight, x2: cx + halfWidth, y2: cy + halfHeight });
        }
      }
    }
  });
  return nonMaxSuppression(candidates, IOU_THRESHOLD, maxResults);
}

/** Intersection over union of two corner boxes (0 when either is empty). */
function overlap(a: SsdDetection, b: SsdDetection): number {
  const areaA = (a.x2 - a.x1) * (a.y2 - a.y1);
  const areaB = (b.x2 - b.x1) * (b.y2 - b.y1);
  if (areaA <= 0 || areaB <= 0) return 0;
  const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  return (w * h) / (areaA + areaB - w * h);
}

/** Greedy non-max suppression as face-api's: best score first, drop any box overlapping a kept one by more than `iouThreshold`. */
export function nonMaxSuppression(candidates: readonly SsdDetection[], iouThreshold: number, maxResults: number): SsdDetection[] {
  const kept: SsdDetection[] = [];
  for (const candidate of [...candidates].sort((a, b) => b.score - a.score)) {
    if (kept.length >= maxResults) break;
    if (kept.every((k) => overlap(candidate, k) <= iouThreshold)) kept.push(candidate);
  }
  return kept;
}

type Conv = { filter: tf.Tensor4D; bias: tf.Tensor1D };

/** What this module reads of face-api's SSD params (ssdMobilenetv1/types.ts), typed with @tensorflow/tfjs. */
type PointwiseParams = { filters: tf.Tensor4D; batch_norm_offset: tf.Tensor1D };
type DepthwiseParams = { filters: tf.Tensor4D; batch_norm_scale: tf.Tensor1D; batch_norm_offset: tf.Tensor1D; batch_norm_mean: tf.Tensor1D; batch_norm_variance: tf.Tensor1D };
type HeadParams = { box_encoding_predictor: { filters: tf.Tensor4D; bias: tf.Tensor1D }; class_predictor: { filters: tf.Tensor4D; bias: tf.Tensor1D } };
type PairParams = { depthwise_conv: DepthwiseParams; pointwise_conv: PointwiseParams };
interface SsdParams {
  /** conv_0: PointwiseParams; conv_1 ... conv_13: PairParams. */
  mobilenetv1: Record<string, PointwiseParams | PairParams>;
  /** conv_0 ... conv_7: PointwiseParams; box_predictor_0 ... box_predictor_5: HeadParams. */
  prediction_layer: Record<string, PointwiseParams | HeadParams>;
  output_layer: { extra_dim: tf.Tensor3D };
}

/** face-api's batch-norm epsilon (ssdMobilenetv1/mobileNetV1.ts). */
const BATCH_NORM_EPSILON = 0.0010000000474974513;

/**
 * Reads face-api's anchors (`extra_dim`, [ymin, xmin, ymax, xmax] on the unit
 * square of its 512x512 canvas) and returns each layer's anchor sizes in canvas px,
 * after checking they are the regular grid this module places on other canvases.
 */
export function anchorSizesFrom(extraDim: readonly (readonly number[])[]): [number, number][][] {
  const expected = LAYERS.reduce((n, l) => n + (SSD_INPUT_SIZE / l.stride) ** 2 * l.anchors, 0);
  if (extraDim.length !== expected) throw new Error(`face-api SSD anchors: expected ${expected}, found ${extraDim.length}`);
  const sizes: [number, number][][] = [];
  let index = 0;
  for (const { stride, anchors } of LAYERS) {
    const n = SSD_INPUT_SIZE / stride;
    const layer: [number, number][] = [];
    for (let j = 0; j < anchors; j++) {
      const a = extraDim[index + j]!;
      layer.push([(a[2]! - a[0]!) * SSD_INPUT_SIZE, (a[3]! - a[1]!) * SSD_INPUT_SIZE]);
    }
    for (let cell = 0; cell < n * n; cell++) {
      for (let j = 0; j < anchors; j++) {
        const a = extraDim[index++]!;
        const [row, col] = [Math.floor(cell / n), cell % n];
        const off = Math.max(
          Math.abs(((a[0]! + a[2]!) / 2) * n - (row + 0.5)),
          Math.abs(((a[1]! + a[3]!) / 2) * n - (col + 0.5)),
          Math.abs((a[2]! - a[0]!) * SSD_INPUT_SIZE - layer[j]![0]),
          Math.abs((a[3]! - a[1]!) * SSD_INPUT_SIZE - layer[j]![1]),
        );
        if (off > 1e-3) throw new Error(`face-api SSD anchors: anchor ${index - 1} is not on the expected ${n}x${n} grid`);
      }
    }
    sizes.push(layer);
  }
  return sizes;
}

/**
 * Prepares the fused weights from face-api's loaded SSD net and returns the
 * detector. The pointwise filters are face-api's own tensors; only the folded
 * depthwise filters and the merged heads are new, kept for the life of the process.
 */
export function createSsdDetector(faceapi: FaceApi): SsdDetector {
  const loaded = faceapi.nets.ssdMobilenetv1.params;
  if (!loaded) throw new Error('face-api SSD MobileNet v1 is not loaded');
  // face-api's .d.ts bundles its own copy of the tfjs types; at run time its tensors are
  // @tensorflow/tfjs tensors (face-api.node-wasm.js requires that package), hence the cast.
  const params = loaded as unknown as SsdParams;
  const anchorSizes = anchorSizesFrom(params.output_layer.extra_dim.arraySync()[0]!);

  const pointwise = (p: PointwiseParams): Conv => ({ filter: p.filters, bias: p.batch_norm_offset });
  const m = params.mobilenetv1;
  const pl = params.prediction_layer;
  const weights = tf.tidy(() => {
    const pairs = Array.from({ length: 13 }, (_, i) => {
      const pair = m[`conv_${i + 1}`] as PairParams;
      const d = pair.depthwise_conv;
      // batchNorm(x) = (x - mean) * scale / sqrt(var + eps) + offset, folded into the depthwise filter and a bias.
      const factor = tf.div(d.batch_norm_scale, tf.sqrt(tf.add(d.batch_norm_variance, BATCH_NORM_EPSILON)));
      const depthwise: Conv = {
        filter: tf.keep(tf.mul(d.filters, tf.reshape(factor, [1, 1, -1, 1]))),
        bias: tf.keep(tf.sub(d.batch_norm_offset, tf.mul(d.batch_norm_mean, factor))),
      };
      // Strides as face-api's getStridesForLayerIdx: layers 2, 4, 6 and 12 halve the size.
      return { depthwise, pointwise: pointwise(pair.pointwise_conv), stride: [2, 4, 6, 12].includes(i + 1) ? 2 : 1 };
    });
    const heads = Array.from({ length: 6 }, (_, i): Conv => {
      const h = pl[`box_predictor_${i}`] as HeadParams;
      return {
        filter: tf.keep(tf.concat([h.box_encoding_predictor.filters, h.class_predictor.filters], 3)),
        bias: tf.keep(tf.concat([h.box_encoding_predictor.bias, h.class_predictor.bias], 0)),
      };
    });
    const extra = Array.from({ length: 8 }, (_, i) => pointwise(pl[`conv_${i}`] as PointwiseParams));
    return { first: pointwise(m.conv_0 as PointwiseParams), pairs, extra, heads };
  });

  const conv = (x: tf.Tensor4D, w: Conv, stride: number, activation: 'relu6' | 'linear' = 'relu6') =>
    tf.fused.conv2d({ x, filter: w.filter, strides: stride, pad: 'same', bias: w.bias, activation });
  const depthwise = (x: tf.Tensor4D, w: Conv, stride: number) =>
    tf.fused.depthwiseConv2d({ x, filter: w.filter, strides: stride, pad: 'same', bias: w.bias, activation: 'relu6' });

  return {
    detect(canvas, minConfidence, maxResults) {
      const heads = tf.tidy(() => {
        let out = conv(canvas, weights.first, 2);
        let conv11 = out;
        weights.pairs.forEach((pair, i) => {
          out = conv(depthwise(out, pair.depthwise, pair.stride), pair.pointwise, 1);
          if (i + 1 === 11) conv11 = out;
        });
        // face-api's prediction layer: four (1x1, 3x3 stride 2) pairs after the backbone.
        const e = weights.extra;
        const c1 = conv(conv(out, e[0]!, 1), e[1]!, 2);
        const c3 = conv(conv(c1, e[2]!, 1), e[3]!, 2);
        const c5 = conv(conv(c3, e[4]!, 1), e[5]!, 2);
        const c7 = conv(conv(c5, e[6]!, 1), e[7]!, 2);
        return [conv11, out, c1, c3, c5, c7].map((features, layer) => conv(features, weights.heads[layer]!, 1, 'linear'));
      });
      try {
        const outputs = heads.map((h) => ({ rows: h.shape[1], cols: h.shape[2], data: h.dataSync() as Float32Array }));
        return decodeDetections(outputs, anchorSizes, minConfidence, maxResults);
      } finally {
        for (const h of heads) h.dispose();
      }
    },
  };
}
