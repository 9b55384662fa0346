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
}
