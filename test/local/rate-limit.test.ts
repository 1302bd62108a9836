/** The local throttle: one bucket per usage key (so per Bearer client), bounded in memory. */
import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../local/rate-limit.js';

describe('TokenBuckets', () => {
  it('gives each key its own bucket: one key at its limit leaves another alone', () => {
    let t = 0;
    const buckets = new TokenBuckets(1, 2, () => t);
    expect([buckets.take('a'), buckets.take('a')]).toEqual([0, 0]);
    expect(buckets.take('a')).toBeCloseTo(1, 5);
    expect(buckets.take('b')).toBe(0);
    t = 1000;
    expect(buckets.take('a')).toBe(0);
  });

  it('drops refilled buckets once maxKeys keys are tracked, and keeps the ones still limiting', () => {
    let t = 0;
    const buckets = new TokenBuckets(1, 1, () => t, 3);
    buckets.take('a');
    buckets.take('b');
    t = 5000; // a and b have refilled
    buckets.take('c');
    expect(buckets.size).toBe(3);
    buckets.take('d'); // prunes a and b (full), keeps c (empty, still limiting)
    expect(buckets.size).toBe(2);
    expect(buckets.take('c')).toBeGreaterThan(0);
  });
});
