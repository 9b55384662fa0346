import { describe, expect, it } from 'vitest'
import { retryDelay } from '../../server/services/workers/push'

const answer = (statusCode: number, retryAfterMs: number | null) => ({ statusCode, retryAfterMs, error: null })

describe('the wait before a push is tried again', () => {
  it('is the Retry-After of a 429 or 503 when it is longer than the backoff\'s shortest wait', () => {
    expect(retryDelay(1, answer(429, 30_000), 2000)).toBe(30_000)
    expect(retryDelay(2, answer(503, 5000), 2000)).toBe(5000)
  })

  it('is no shorter than the backoff\'s shortest wait for that try when Retry-After says 0 (or a date past)', () => {
    expect(retryDelay(1, answer(429, 0), 2000)).toBe(1000)
    expect(retryDelay(3, answer(429, 0), 2000)).toBe(4000)
    expect(retryDelay(3, answer(503, 3000), 2000)).toBe(4000)
  })

  it('is the backoff without a Retry-After, or for another status', () => {
    for (const outcome of [answer(429, null), answer(500, 60_000)]) {
      const ms = retryDelay(2, outcome, 2000)
      expect(ms).toBeGreaterThanOrEqual(2000)
      expect(ms).toBeLessThan(6000)
    }
  })
})
