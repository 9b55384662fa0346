// The inbox store over a small key-value interface: localForage (IndexedDB) in the browser and
// the service worker, a Map in unit tests. Items are keyed by notification id, so adding the same
// notification twice is harmless.
import { PRUNE_DEFAULTS, changes, filterItems, mergeItem, prunable, withinUpTo } from './logic'
import type { InboxFilter, InboxItem } from './types'

/** The subset of localForage the store needs. */
export interface KeyValueStorage {
  getItem<T>(key: string): Promise<T | null>
  setItem<T>(key: string, value: T): Promise<T>
  removeItem(key: string): Promise<void>
  keys(): Promise<string[]>
  iterate<T, U>(callback: (value: T, key: string, n: number) => U): Promise<U>
  clear(): Promise<void>
}

export interface InboxStore {
  /**
   * Adds or merges items; resolves to each one as now stored (`stored`, whoever stored it first:
   * another tab may have) and to those this call made new or changed (`changed`).
   */
  add(items: InboxItem[]): Promise<{ stored: InboxItem[], changed: InboxItem[] }>
  get(id: string): Promise<InboxItem | null>
  all(): Promise<InboxItem[]>
  list(filter?: InboxFilter): Promise<InboxItem[]>
  /**
   * Marks these ids read (when ids is 'all': every item, or those published at or before `upTo`);
   * resolves to the ids that changed.
   */
  markRead(ids: string[] | 'all', readAt?: string, upTo?: string | null): Promise<string[]>
  unreadCount(): Promise<number>
  prune(options?: typeof PRUNE_DEFAULTS, now?: Date): Promise<number>
  clear(): Promise<void>
}

export function createInboxStore(storage: KeyValueStorage): InboxStore {
  async function all(): Promise<InboxItem[]> {
    const items: InboxItem[] = []
    await storage.iterate<InboxItem, undefined>((value) => {
      items.push(value)
      return undefined
    })
    return items
  }

  return {
    async add(items) {
      const stored: InboxItem[] = []
      const changed: InboxItem[] = []
      for (const item of items) {
        const existing = await storage.getItem<InboxItem>(item.id)
        if (existing && !changes(existing, item)) {
          stored.push(existing)
          continue
        }
        const merged = mergeItem(existing, item)
        await storage.setItem(item.id, merged)
        stored.push(merged)
        changed.push(merged)
      }
      return { stored, changed }
    },
    get: id => storage.getItem<InboxItem>(id),
    all,
    async list(filter = {}) {
      return filterItems(await all(), filter)
    },
    async markRead(ids, readAt = new Date().toISOString(), upTo) {
      const targets = ids === 'all' ? (await all()).filter(i => !i.readAt && withinUpTo(i, upTo)) : []
      if (ids !== 'all') {
        for (const id of ids) {
          const item = await storage.getItem<InboxItem>(id)
          if (item && !item.readAt) targets.push(item)
        }
      }
      for (const item of targets) await storage.setItem(item.id, { ...item, readAt })
      return targets.map(i => i.id)
    },
    async unreadCount() {
      let n = 0
      await storage.iterate<InboxItem, undefined>((value) => {
        if (!value.readAt) n++
        return undefined
      })
      return n
    },
    async prune(options = PRUNE_DEFAULTS, now = new Date()) {
      const ids = prunable(await all(), options, now)
      for (const id of ids) await storage.removeItem(id)
      return ids.length
    },
    clear: () => storage.clear(),
  }
}

/**
 * Read ids waiting to reach the server (marked read while offline). A set of ids; `all` is a
 * key of its own for "mark all read".
 */
/**
 * Reads still to send. A "mark all read" is kept with its cut-off (`upTo`: the newest item the
 * device showed then), so sent later it does not take what was published meanwhile; two of them
 * keep the later cut-off. `upTo` null: no cut-off.
 */
export interface ReadQueue {
  add(ids: string[] | 'all', upTo?: string | null): Promise<void>
  pending(): Promise<{ ids: string[], all: boolean, upTo: string | null }>
  /** Takes these off the queue; 'all' only if no later "mark all read" was queued since. */
  done(ids: string[] | 'all', upTo?: string | null): Promise<void>
  clear(): Promise<void>
}

const READ_BATCH = 1000

/** A request of `POST /api/inbox/read`. */
export type ReadRequest = { ids: string[] } | { all: true, upTo?: string }

/** The requests that send the reads `pending` holds: "all" first, then the ids 1,000 a request. */
export function readRequests({ ids, all, upTo }: Awaited<ReturnType<ReadQueue['pending']>>): ReadRequest[] {
  const requests: ReadRequest[] = all ? [upTo ? { all: true, upTo } : { all: true }] : []
  for (let i = 0; i < ids.length; i += READ_BATCH) requests.push({ ids: ids.slice(i, i + READ_BATCH) })
  return requests
}

const ALL = '*all*'
/** What the ALL key holds: the cut-off, or true for none (also what older versions stored). */
type AllValue = string | true

function laterCutOff(a: AllValue | null, b: AllValue): AllValue {
  if (a === null) return b
  if (a === true || b === true) return true
  return Date.parse(a) >= Date.parse(b) ? a : b
}

export function createReadQueue(storage: KeyValueStorage): ReadQueue {
  return {
    async add(ids, upTo) {
      if (ids === 'all') await storage.setItem(ALL, laterCutOff(await storage.getItem<AllValue>(ALL), upTo ?? true))
      else for (const id of ids) await storage.setItem(id, true)
    },
    async pending() {
      const keys = await storage.keys()
      const all = keys.includes(ALL) ? await storage.getItem<AllValue>(ALL) : null
      return { ids: keys.filter(k => k !== ALL), all: all !== null, upTo: typeof all === 'string' ? all : null }
    },
    async done(ids, upTo) {
      if (ids === 'all') {
        if ((await storage.getItem<AllValue>(ALL)) === (upTo ?? true)) await storage.removeItem(ALL)
      }
      else for (const id of ids) await storage.removeItem(id)
    },
    clear: () => storage.clear(),
  }
}
