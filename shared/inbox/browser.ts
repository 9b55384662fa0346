// The IndexedDB-backed instances, for the page and the service worker alike.
import localforage from 'localforage'
import { createInboxStore, createReadQueue, type KeyValueStorage } from './store'

const DB = 'mercury'

function instance(storeName: string): KeyValueStorage {
  return localforage.createInstance({ name: DB, storeName, driver: localforage.INDEXEDDB }) as unknown as KeyValueStorage
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
