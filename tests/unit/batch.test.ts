import { describe, expect, it } from 'vitest'
import { batchLoader, batchWriter } from '../../server/utils/batch'

const tick = () => new Promise(resolve => setImmediate(resolve))

/** A write that records its batches, fails on 'bad' items, and can be held open. */
function recorder() {
  const batches: string[][] = []
  let release: (() => void) | undefined
  let hold = false
  const write = async (items: string[]) => {
    batches.push(items)
    if (hold) await new Promise<void>(resolve => release = resolve)
    if (items.includes('bad')) throw new Error('bad item')
    if (items.includes('down')) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { name: 'DriverAdapterError' })
  }
  return { batches, write, holdNext: () => hold = true, release: () => {
    hold = false
    release?.()
  } }
}

describe('batchWriter', () => {
  it('writes what is queued in one turn as one batch, and resolves each item once written', async () => {
    const { batches, write } = recorder()
    const add = batchWriter(write)
    const done = ['a', 'b', 'c'].map(add)
    expect(batches).toEqual([]) // nothing before the end of the turn
    await Promise.all(done)
    expect(batches).toEqual([['a', 'b', 'c']])
    await add('d')
    expect(batches).toEqual([['a', 'b', 'c'], ['d']])
  })

  it('gathers what arrives while a batch is being written into the next one', async () => {
    const { batches, write, holdNext, release } = recorder()
    const add = batchWriter(write)
    holdNext()
    const first = add('a')
    await tick()
    const later = ['b', 'c'].map(add)
    await tick()
    expect(batches).toEqual([['a']])
    release()
    await Promise.all([first, ...later])
    expect(batches).toEqual([['a'], ['b', 'c']])
  })

  it('writes at most max items at a time', async () => {
    const { batches, write } = recorder()
    const add = batchWriter(write, 2)
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map(add))
    expect(batches).toEqual([['a', 'b'], ['c', 'd'], ['e']])
  })

  it('fails only the bad item of a batch: the others are written alone', async () => {
    const { batches, write } = recorder()
    const add = batchWriter(write)
    const results = await Promise.allSettled(['a', 'bad', 'c'].map(add))
    expect(results.map(r => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('bad item')
    expect(batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']])
  })

  it('fails the whole batch at once while the database is unavailable', async () => {
    const { batches, write } = recorder()
    const add = batchWriter(write)
    const results = await Promise.allSettled(['a', 'down', 'c'].map(add))
    expect(results.every(r => r.status === 'rejected')).toBe(true)
    expect(batches).toEqual([['a', 'down', 'c']])
    // And it goes on writing afterwards.
    await add('e')
    expect(batches.at(-1)).toEqual(['e'])
  })
})

describe('batchLoader', () => {
  it('reads the keys asked for in one turn with one load, each distinct key once, in order', async () => {
    const loads: string[][] = []
    const read = batchLoader<string, number>(async (keys) => {
      loads.push(keys)
      return new Map(keys.filter(k => k !== 'gone').map(k => [k, k.length]))
    }, -1)
    const values = await Promise.all(['a', 'bb', 'a', 'gone', 'ccc'].map(read))
    expect(values).toEqual([1, 2, 1, -1, 3])
    expect(loads).toEqual([['a', 'bb', 'gone', 'ccc']])
    // Nothing is kept: the next turn reads again.
    expect(await read('a')).toBe(1)
    expect(loads).toEqual([['a', 'bb', 'gone', 'ccc'], ['a']])
  })

  it('reads at most max keys at a time, and gathers what is asked meanwhile into the next load', async () => {
    const loads: string[][] = []
    const read = batchLoader<string, string>(async (keys) => {
      loads.push(keys)
      return new Map(keys.map(k => [k, k.toUpperCase()]))
    }, '', 2)
    const first = ['a', 'b', 'c'].map(read)
    await tick()
    const later = read('d')
    expect(await Promise.all([...first, later])).toEqual(['A', 'B', 'C', 'D'])
    expect(loads).toEqual([['a', 'b'], ['c', 'd']])
  })

  it('fails the key whose read fails alone, and every key at once when the database is down', async () => {
    const read = batchLoader<string, string>(async (keys) => {
      if (keys.includes('down')) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { name: 'DriverAdapterError' })
      if (keys.includes('bad')) throw new Error('bad key')
      return new Map(keys.map(k => [k, k]))
    }, '')
    expect((await Promise.allSettled(['a', 'bad', 'c'].map(read))).map(r => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((await Promise.allSettled(['a', 'down'].map(read))).map(r => r.status)).toEqual(['rejected', 'rejected'])
  })
})
