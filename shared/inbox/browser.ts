// The IndexedDB-backed instances, for the page and the service worker alike.
import localforage from 'localforage'
import { MEMORY_DRIVER, memoryDriver } from './memory-driver'
import { createInboxStore, createReadQueue, type KeyValueStorage } from './store'

const DB = 'mercury'

// Defined at once (its support is a plain `true`): the instances below may fall back to it.
void localforage.defineDriver(memoryDriver)

/** Every instance made here: each falls back to memory on its own. */
const instances: LocalForage[] = []

/** IndexedDB, or memory when it cannot be opened (see memory-driver.ts). */
function instance(storeName: string): KeyValueStorage {
  const made = localforage.createInstance({ name: DB, storeName, driver: [localforage.INDEXEDDB, MEMORY_DRIVER] })
  instances.push(made)
  return made as unknown as KeyValueStorage
}

/** Whether this realm keeps (some of) the inbox in memory only: its IndexedDB could not be opened. */
export async function inboxInMemory(): Promise<boolean> {
  useInboxDb()
  const drivers = await Promise.all(instances.map(store => store.ready().then(() => store.driver())))
  return drivers.includes(MEMORY_DRIVER)
}

let opened: ReturnType<typeof open> | undefined

function open() {
  return {
    inbox: createInboxStore(instance('inbox')),
    readQueue: createReadQueue(instance('read-queue')),
    /** Small facts kept beside the inbox: whose inbox it is. */
    meta: instance('meta'),
  }
}

/** One set of stores per JavaScript realm (page or worker). */
export function useInboxDb() {
  opened ??= open()
  return opened
}

/** The key, in `meta`, of the inbox snapshot the page shows first (see `snapshotOf`). */
export const SNAPSHOT_KEY = 'snapshot'

/** The BroadcastChannel the worker and every open page talk on. */
export const INBOX_CHANNEL = 'mercury-inbox'

/** `owner`: whose inbox changed; a tab of another user (about to leave) takes none of it. */
export type InboxBroadcast
  = | { type: 'added', owner: string, items: import('./types').InboxItem[] }
    | { type: 'read', owner: string, ids: string[] | 'all', readAt: string, upTo?: string | null }
