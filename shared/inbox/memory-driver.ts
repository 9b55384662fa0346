// A localForage driver that keeps its items in memory, for a browser whose IndexedDB cannot be
// opened (a damaged or full profile, a browser mode without it). The inbox then still shows what
// the server and the live channel bring, for as long as the page is open: it is not kept across
// reloads, nor shared with the service worker or other tabs.
import type localforage from 'localforage'

type Driver = Parameters<typeof localforage.defineDriver>[0]
type Options = Parameters<Driver['_initStorage']>[0]
/** What the driver's methods find on the localForage instance they run on (its `this`). */
interface Instance { memory: Map<string, unknown> }

export const MEMORY_DRIVER = 'mercuryMemory'

/** Every store, by database and store name: instances of the same store share it. */
const stores = new Map<string, Map<string, unknown>>()

function entries(self: unknown): Map<string, unknown> {
  return (self as Instance).memory
}

export const memoryDriver: Driver = {
  _driver: MEMORY_DRIVER,
  _support: true,
  async _initStorage(this: unknown, options: Options) {
    const name = `${options.name}/${options.storeName}`
    if (!stores.has(name)) stores.set(name, new Map())
    ;(this as Instance).memory = stores.get(name)!
  },
  async getItem<T>(this: unknown, key: string) {
    const map = entries(this)
    return (map.has(key) ? structuredClone(map.get(key)) : null) as T | null
  },
  async setItem<T>(this: unknown, key: string, value: T) {
    entries(this).set(key, structuredClone(value))
    return value
  },
  async removeItem(this: unknown, key: string) {
    entries(this).delete(key)
  },
  async clear(this: unknown) {
    entries(this).clear()
  },
  async length(this: unknown) {
    return entries(this).size
  },
  async key(this: unknown, n: number) {
    return [...entries(this).keys()][n] ?? ''
  },
  async keys(this: unknown) {
    return [...entries(this).keys()]
  },
  async iterate<T, U>(this: unknown, callback: (value: T, key: string, n: number) => U) {
    let n = 0
    for (const [key, value] of entries(this)) {
      const result = callback(structuredClone(value) as T, key, ++n)
      if (result !== undefined) return result
    }
    return undefined as U
  },
}
