/** Per-key token bucket, imitating a usage plan's throttle (rate + burst) on the local gateway. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; updated: number }>();

  /**
   * @param ratePerSecond steady rate per key
   * @param burst bucket size per key
   * @param now clock in ms @default performance.now
   * @param maxKeys keys kept before full buckets are dropped (each Bearer client has its own key,
   *   so the map would otherwise grow with every client ever seen) @default 10000
   */
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 10_000,
  ) {}

  /** Keys currently tracked (for tests and diagnostics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token; returns 0 when allowed, else the seconds to wait before a token is free. */
  take(key: string): number {
    const now = this.now();
    if (!this.buckets.has(key) && this.buckets.size >= this.maxKeys) this.prune(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updated: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.ratePerSecond);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.ratePerSecond;
  }

  /** Drops buckets that have refilled: a full bucket is the same as no bucket. */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updated) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(key);
    }
  }
}
