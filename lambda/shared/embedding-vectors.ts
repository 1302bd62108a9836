/**
 * Synthetic embedding pairs with an exactly known cosine, and the transformations
 * the calibration uses to test that a score depends on the cosine alone.
 */

/** Deterministic PRNG (mulberry32), so an interrupted run regenerates the same pairs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function norm(a: readonly number[]): number {
  return Math.sqrt(dot(a, a));
}

export function scale(a: readonly number[], k: number): number[] {
  return a.map((x) => x * k);
}

export function randomUnit(dimension: number, random: () => number): number[] {
  const v = Array.from({ length: dimension }, () => gaussian(random));
  return scale(v, 1 / norm(v));
}

/**
 * The simplest pair with cosine `c`: a = e1, b = (c, sqrt(1 - c^2), 0, ...). The cosine any
 * backend computes from it equals `c` to within an ulp or two, far below the 1e-9 resolution.
 */
export function basisPair(dimension: number, c: number): [number[], number[]] {
  if (dimension < 2) throw new Error('dimension must be at least 2');
  const a = new Array<number>(dimension).fill(0);
  const b = new Array<number>(dimension).fill(0);
  a[0] = 1;
  b[0] = c;
  b[1] = Math.sqrt(Math.max(0, 1 - c * c));
  return [a, b];
}

/** A random pair with cosine `c` in a random direction, each vector with a random norm. */
export function randomPair(dimension: number, c: number, random: () => number): [number[], number[]] {
  const a = randomUnit(dimension, random);
  // w: random unit vector orthogonal to a (Gram-Schmidt).
  let w = randomUnit(dimension, random);
  const p = dot(w, a);
  w = w.map((x, i) => x - p * a[i]!);
  w = scale(w, 1 / norm(w));
  const s = Math.sqrt(Math.max(0, 1 - c * c));
  const b = a.map((x, i) => c * x + s * w[i]!);
  return [scale(a, 0.2 + 3 * random()), scale(b, 0.2 + 3 * random())];
}

/** A random orthogonal map, as a product of three Householder reflections (cheap for any dimension). */
export function randomRotation(dimension: number, random: () => number): (v: readonly number[]) => number[] {
  const mirrors = [0, 1, 2].map(() => randomUnit(dimension, random));
  return (v) => {
    let out = [...v];
    for (const m of mirrors) {
      const k = 2 * dot(out, m);
      out = out.map((x, i) => x - k * m[i]!);
    }
    return out;
  };
}

export function randomPermutation(dimension: number, random: () => number): (v: readonly number[]) => number[] {
  const order = Array.from({ length: dimension }, (_, i) => i);
  for (let i = dimension - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return (v) => order.map((i) => v[i]!);
}
