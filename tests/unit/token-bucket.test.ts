import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TokenBuckets } from '../../server/utils/token-bucket'

describe('TokenBuckets', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const takeAll = (buckets: TokenBuckets, key: string) => {
    let taken = 0
    while (buckets.take(key)) taken++
    return taken
  }

  it('lets go of the keys that stopped taking (sources deleted), within a minute or so', () => {
    const buckets = new TokenBuckets(10)
    for (let i = 0; i < 100; i++) buckets.take(`deleted-${i}`)
    vi.advanceTimersByTime(61_000)
    buckets.take('live')
    expect(buckets.size).toBe(1)
  })

  it('keeps the limit of a key still taking: its bucket is not new again until it filled up', () => {
    const buckets = new TokenBuckets(1, 100)
    expect(takeAll(buckets, 'busy')).toBe(100)
    vi.advanceTimersByTime(61_000)
    buckets.take('other')
    expect(takeAll(buckets, 'busy')).toBe(61)
    vi.advanceTimersByTime(100_000)
    expect(takeAll(buckets, 'busy')).toBe(100)
  })
})
