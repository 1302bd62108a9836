import { describe, expect, it } from 'vitest';
import { cropRegion, iou, toPixelBox } from '../../../local/engine/geometry.js';

describe('toPixelBox', () => {
  it('scales a relative box to integer pixels', () => {
    expect(toPixelBox({ x: 0.25, y: 0.5, width: 0.1, height: 0.2 }, 1920, 1280)).toEqual({ x: 480, y: 640, width: 192, height: 256 });
  });

  it('clips to the image and keeps at least 1 px', () => {
    expect(toPixelBox({ x: -0.1, y: 0.9, width: 0.3, height: 0.3 }, 100, 100)).toEqual({ x: 0, y: 90, width: 20, height: 10 });
    expect(toPixelBox({ x: 1, y: 1, width: 0, height: 0 }, 100, 50)).toEqual({ x: 99, y: 49, width: 1, height: 1 });
  });
});

describe('iou', () => {
  it('is 1 for equal boxes, 0 for disjoint ones, and the overlap ratio otherwise', () => {
    const a = { x: 0, y: 0, width: 10, height: 10 };
    expect(iou(a, a)).toBe(1);
    expect(iou(a, { x: 10, y: 0, width: 10, height: 10 })).toBe(0);
    expect(iou(a, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150, 10);
  });
});

describe('cropRegion', () => {
  it('grows a box by the margin on every side as a square around its centre', () => {
    expect(cropRegion({ x: 100, y: 100, width: 100, height: 80 }, 0.5, 1000, 1000)).toEqual({ x: 50, y: 40, width: 200, height: 200 });
  });

  it('clips to the image', () => {
    expect(cropRegion({ x: 0, y: 0, width: 40, height: 40 }, 0.5, 50, 1000)).toEqual({ x: 0, y: 0, width: 50, height: 60 });
  });
});
