/**
 * Box arithmetic: relative detector boxes -> integer pixel boxes of the
 * original displayed image, ordering and overlap.
 */

/** The contract's bounding box: integer pixels of the displayed (EXIF-rotated) image. */
export interface PixelBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A box in fractions of the image size, as the detector reports it (0..1). */
export interface RelativeBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/**
 * Scales a relative box to an image of `width` x `height` pixels, rounds its
 * edges to whole pixels and clips it to the image (at least 1 px wide and high).
 */
export function toPixelBox(rel: RelativeBox, width: number, height: number): PixelBox {
  const x1 = clamp(Math.round(rel.x * width), 0, width - 1);
  const y1 = clamp(Math.round(rel.y * height), 0, height - 1);
  const x2 = clamp(Math.round((rel.x + rel.width) * width), x1 + 1, width);
  const y2 = clamp(Math.round((rel.y + rel.height) * height), y1 + 1, height);
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

export const boxArea = (b: PixelBox): number => b.width * b.height;

/** Intersection over union of two boxes (0 when disjoint). */
export function iou(a: PixelBox, b: PixelBox): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (boxArea(a) + boxArea(b) - inter);
}

/**
 * The square region around a box, grown by `margin` times the box's longest side
 * on every side and clipped to the image: what the landmark and alignment steps
 * may look at (face-api's dlib-style aligned box reaches past the detector box).
 */
export function cropRegion(box: PixelBox, margin: number, width: number, height: number): PixelBox {
  const side = Math.max(box.width, box.height);
  const grow = Math.ceil(side * margin);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const half = side / 2 + grow;
  const left = clamp(Math.floor(cx - half), 0, width - 1);
  const top = clamp(Math.floor(cy - half), 0, height - 1);
  const right = clamp(Math.ceil(cx + half), left + 1, width);
  const bottom = clamp(Math.ceil(cy + half), top + 1, height);
  return { x: left, y: top, width: right - left, height: bottom - top };
}
