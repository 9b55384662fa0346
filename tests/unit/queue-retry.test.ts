import { afterEach, describe, expect, it, vi } from 'vitest'
import { HANDLER_ATTEMPTS, handlerRetryDelayMs, reportJobFailure } from '../../server/services/queue/retry'

describe('a job whose handler throws', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    vi.useRealTimers()
  })

  it('is retried after 1 s, 2 s, 4 s … at most a minute', () => {
    expect([1, 2, 3, 7, 8, 39].map(handlerRetryDelayMs)).toEqual([1000, 2000, 4000, 60_000, 60_000, 60_000])
  })

  it('is logged at its first failure, then once a minute per queue with how many were left out, and when it is dropped', () => {
    vi.useFakeTimers()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    reportJobFailure('result', 1, new Error('Map.groupBy is not a function'))
    reportJobFailure('result', 2, new Error('Map.groupBy is not a function'))
    reportJobFailure('result', 3, new Error('Map.groupBy is not a function'))
    expect(warn.mock.calls).toEqual([['mercury: result job failed (tried again shortly): Map.groupBy is not a function']])
    vi.advanceTimersByTime(60_000)
    reportJobFailure('result', 4, new Error('still'))
    expect(warn.mock.calls[1]).toEqual(['mercury: result job failed (tried again shortly): still (2 more left out since the last)'])
    reportJobFailure('result', HANDLER_ATTEMPTS, new Error('for good'))
    expect(error.mock.calls[0]?.[0]).toBe(`mercury: result job failed ${HANDLER_ATTEMPTS} times, dropped:`)
  })
})
