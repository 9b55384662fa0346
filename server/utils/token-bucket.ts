/**
 * A token bucket: `rate` tokens per second, at most `burst` saved up. One per connection or
 * source, checked on every frame, so it allocates nothing per call.
 */
export class TokenBucket {
  private tokens: number
  private last = Date.now()

  constructor(private readonly rate: number, private readonly burst = rate) {
    this.tokens = burst
  }

  take(): boolean {
    const now = Date.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate / 1000)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens--
    return true
  }

  /** Whether it has filled up again since it was last taken from: then it is as good as new. */
  full(now = Date.now()): boolean {
    return this.tokens + (now - this.last) * this.rate / 1000 >= this.burst
  }
}

/** How often keyed buckets that filled up again are dropped. */
const SWEEP_EVERY_MS = 60_000

/**
 * A token bucket per key (a source, a user), made on first use. A bucket that filled up again is
 * the same as a new one, so those are dropped once a minute: keys that stopped taking (a source or
 * user deleted, on this instance or another) do not stay for ever, and no live key's limit resets.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>()
  private sweptAt = Date.now()

  constructor(private readonly rate: number, private readonly burst = rate) {}

  take(key: string): boolean {
    const now = Date.now()
    if (now - this.sweptAt >= SWEEP_EVERY_MS) this.sweep(now)
    let bucket = this.buckets.get(key)
    if (!bucket) {
      bucket = new TokenBucket(this.rate, this.burst)
      this.buckets.set(key, bucket)
    }
    return bucket.take()
  }

  /** Keys whose bucket is held, that is, that took within about the last minute. */
  get size(): number {
    return this.buckets.size
  }

  private sweep(now: number) {
    this.sweptAt = now
    for (const [key, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(key)
  }
}
