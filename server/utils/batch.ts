// Group database work: the items handed over during one turn of the event loop go together.
// It must stay free of Nitro auto-imports so tests can load it directly.
import { isDatabaseUnavailable } from './unavailable'

interface Waiting<T, R> {
  item: T
  resolve: (result: R) => void
  reject: (error: unknown) => void
}

/**
 * Returns a function that queues an item and resolves with its result. Items queued in the same
 * turn of the event loop, or while the previous batch is running, go in one call of `run` (at most
 * `max` at a time), which returns one result per item, in order. An idle batcher runs at the end of
 * the current turn: no timer, no added wait.
 * When a batch fails, its items are run one by one, so that one bad item fails alone, unless the
 * database is unavailable: then all of them fail at once.
 */
function batcher<T, R>(run: (items: T[]) => Promise<R[]>, max: number): (item: T) => Promise<R> {
  const queue: Waiting<T, R>[] = []
  let busy = false

  const runAlone = async (waiting: Waiting<T, R>) => {
    try {
      const [result] = await run([waiting.item])
      waiting.resolve(result!)
    }
    catch (error) {
      waiting.reject(error)
    }
  }

  const flush = async () => {
    const batch = queue.splice(0, max)
    try {
      const results = await run(batch.map(w => w.item))
      batch.forEach((waiting, i) => waiting.resolve(results[i]!))
    }
    catch (error) {
      if (batch.length === 1 || isDatabaseUnavailable(error)) {
        for (const waiting of batch) waiting.reject(error)
      }
      else {
        for (const waiting of batch) await runAlone(waiting)
      }
    }
    if (queue.length > 0) setImmediate(() => void flush())
    else busy = false
  }

  return item => new Promise<R>((resolve, reject) => {
    queue.push({ item, resolve, reject })
    if (!busy) {
      busy = true
      setImmediate(() => void flush())
    }
  })
}

/**
 * Returns a function that queues an item and resolves once it is written: what is queued in one
 * turn (or while the previous batch is being written) goes in one call of `write`, so that a burst
 * of messages costs one transaction instead of one each. See `batcher` for failures.
 */
export function batchWriter<T>(write: (items: T[]) => Promise<void>, max = 200): (item: T) => Promise<void> {
  return batcher<T, undefined>(async (items) => {
    await write(items)
    return items.map(() => undefined)
  }, max)
}

/**
 * Returns a function that reads the value of a key: the keys asked for in one turn (or while the
 * previous read is running) are read with one call of `load`, each distinct key once. A key that
 * `load` leaves out gets `missing`. Nothing is cached between batches: each read is as fresh as an
 * unbatched one would be.
 */
export function batchLoader<K, V>(load: (keys: K[]) => Promise<Map<K, V>>, missing: V, max = 200): (key: K) => Promise<V> {
  return batcher<K, V>(async (keys) => {
    const values = await load([...new Set(keys)])
    return keys.map(key => values.has(key) ? values.get(key)! : missing)
  }, max)
}
