import { describe, expect, it } from 'vitest'
import { oneAtATime } from '#shared/utils/one-at-a-time'

describe('oneAtATime', () => {
  it('runs again after a run that ended before its first await (it used to be waited on for ever)', async () => {
    let runs = 0
    const run = oneAtATime(async () => {
      runs++
    })
    await run()
    await run()
    expect(runs).toBe(2)
    await Promise.all([run(), run()]) // the second waits for the first, then runs again
    expect(runs).toBe(4)
  })

  it('runs once more after the run in progress for every call made meanwhile, together', async () => {
    const started: number[] = []
    const releases: (() => void)[] = []
    const run = oneAtATime(() => {
      started.push(started.length + 1)
      return new Promise<void>(resolve => releases.push(resolve))
    })
    const first = run()
    const second = run()
    const third = run()
    expect(started).toEqual([1]) // one at a time
    let secondDone = false
    void second.then(() => secondDone = true)
    releases[0]!()
    await first
    await new Promise(resolve => setTimeout(resolve, 0))
    expect(started).toEqual([1, 2]) // the two calls made meanwhile share one run
    expect(secondDone).toBe(false) // resolved only once that later run is over
    releases[1]!()
    await Promise.all([second, third])
    expect(started).toEqual([1, 2])
  })

  it('passes a failure to its callers and runs again at the next call', async () => {
    let fail = true
    let runs = 0
    const run = oneAtATime(async () => {
      runs++
      if (fail) throw new Error('unreachable')
    })
    await expect(run()).rejects.toThrow('unreachable')
    fail = false
    await run()
    expect(runs).toBe(2)
  })
})
