// Group writes: the items handed over during one turn of the event loop are written together.
// It must stay free of Nitro auto-imports so tests can load it directly.
import { isDatabaseUnavailable } from './unavailable'

interface Waiting<T> {
  item: T
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * Returns a function that queues an item and resolves once it is written. Items queued in the same
 * turn of the event loop, or while the previous batch is being written, go in one call of `write`
 * (at most `max` at a time), so that a burst of messages costs one transaction instead of one each.
 * An idle writer writes at the end of the current turn: no timer, no added wait.
 * When a batch fails, its items are written one by one, so that one bad item fails alone, unless
 * the database is unavailable: then all of them fail at once.
 */
export function batchWriter<T>(write: (items: T[]) => Promise<void>, max = 200): (item: T) => Promise<void> {
  const queue: Waiting<T>[] = []
  let busy = false

  const writeAlone = async (waiting: Waiting<T>) => {
    try {
      await write([waiting.item])
      waiting.resolve()
    }
    catch (error) {
      waiting.reject(error)
    }
  }

  const flush = async () => {
    const batch = queue.splice(0, max)
    try {
      await write(batch.map(w => w.item))
      for (const waiting of batch) waiting.resolve()
    }
    catch (error) {
      if (batch.length === 1 || isDatabaseUnavailable(error)) {
        for (const waiting of batch) waiting.reject(error)
      }
      else {
        for (const waiting of batch) await writeAlone(waiting)
      }
    }
    if (queue.length > 0) setImmediate(() => void flush())
    else busy = false
  }

  return item => new Promise<void>((resolve, reject) => {
    queue.push({ item, resolve, reject })
    if (!busy) {
      busy = true
      setImmediate(() => void flush())
    }
  })
}
