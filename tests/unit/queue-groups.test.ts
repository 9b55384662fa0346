import { describe, expect, it } from 'vitest'
import { MemoryQueue } from '../../server/services/queue/memory'

interface Job { group: string, n: number }

/** A queue whose jobs run until released; `started` lists them in the order they began. */
function heldQueue(concurrency: number, perGroup: number) {
  const queue = new MemoryQueue<Job>('test')
  const started: string[] = []
  const release = new Map<string, () => void>()
  queue.process(job => new Promise<void>((resolve) => {
    started.push(`${job.group}${job.n}`)
    release.set(`${job.group}${job.n}`, resolve)
  }), concurrency, { of: job => job.group, perGroup })
  return { queue, started, release: (name: string) => release.get(name)!() }
}

const jobs = (group: string, count: number) => Array.from({ length: count }, (_, n) => ({ data: { group, n } }))
const settle = () => new Promise(resolve => setImmediate(resolve))

describe('the in-process queue with groups', () => {
  it('runs at most perGroup jobs of a group, leaving the other slots to the other groups', async () => {
    const { queue, started } = heldQueue(4, 2)
    await queue.add(jobs('x', 6))
    await queue.add(jobs('y', 1))
    await settle()
    expect(started).toEqual(['x0', 'x1', 'y0'])
    expect(await queue.depth()).toEqual({ waiting: 4, active: 3, delayed: 0 })
  })

  it('starts the waiting jobs of a group in order as its running ones end', async () => {
    const { queue, started, release } = heldQueue(4, 2)
    await queue.add(jobs('x', 4))
    await settle()
    expect(started).toEqual(['x0', 'x1'])
    release('x1')
    await settle()
    expect(started).toEqual(['x0', 'x1', 'x2'])
    release('x0')
    await settle()
    expect(started).toEqual(['x0', 'x1', 'x2', 'x3'])
  })
})
