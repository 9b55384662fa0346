// The inbox the pages show: IndexedDB first (instant, offline), then the server. Read state goes
// to the server through a queue kept in IndexedDB, so a read made offline is sent once back online.
import { defineStore } from 'pinia'
import { INBOX_CHANNEL, SNAPSHOT_KEY, inboxInMemory, useInboxDb, type InboxBroadcast } from '#shared/inbox/browser'
import { changes, mergeItem, newestFirst, snapshotOf, withinUpTo, type InboxSnapshot } from '#shared/inbox/logic'
import { readRequests, type ReadRequest } from '#shared/inbox/store'
import { fromServer, type InboxItem, type ServerInboxEntry } from '#shared/inbox/types'
import { oneAtATime } from '#shared/utils/one-at-a-time'

const PAGE = 500
const MAX_SYNC_PAGES = 20
const SNAPSHOT_DELAY_MS = 300
// How long a read's POST, and a page of the inbox, are waited for: a request a stalled network
// never answers is then taken as unreachable (the reads stay queued for the next try), instead of
// holding back every later flush and sync of this tab, the next user's included.
const READ_ANSWER_MS = 10_000
const PAGE_ANSWER_MS = 30_000

/** The reads `open` starts with: the owner, the snapshot and every stored item, in parallel. */
interface LocalReads {
  userId: string
  owner: Promise<string | null>
  snapshot: Promise<InboxSnapshot | null>
  all: Promise<InboxItem[]>
}

let preloaded: LocalReads | null = null

function startReads(userId: string): LocalReads {
  const { inbox, meta } = useInboxDb()
  const owner = meta.getItem<string>('owner')
  // The items only once the owner is known: another user's are never read, and localForage opens
  // one store of the database at a time (opening two at once can stall on a fresh database).
  const all = owner.then(current => current === userId ? inbox.all() : [])
  const reads = { userId, owner, snapshot: meta.getItem<InboxSnapshot>(SNAPSHOT_KEY), all }
  // Whoever takes them handles failures; these must not be reported as unhandled meanwhile.
  for (const read of [reads.owner, reads.snapshot, reads.all]) read.catch(() => undefined)
  return reads
}

/**
 * Starts reading the local inbox of the user last seen on this device while the app is still
 * asking the server who is logged in (plugins/inbox-preload.client.ts): `open` takes these reads
 * over when it is that user.
 */
export function preloadInbox(userId: string): void {
  preloaded ??= startReads(userId)
}

interface InboxPage { items: ServerInboxEntry[], unread: number, nextBefore: string | null, nextBeforeId: string | null }

/** A network failure (offline, server down) as opposed to the server refusing the request. */
function unreachable(error: unknown): boolean {
  const status = (error as { statusCode?: number, status?: number }).statusCode ?? (error as { status?: number }).status
  return !status || status >= 500
}

export const useInboxStore = defineStore('inbox', () => {
  const items = shallowRef<InboxItem[]>([])
  const loaded = ref(false)
  const syncing = ref(false)
  const lastSyncError = ref('')
  const pendingReads = ref(0)
  /** IndexedDB could not be opened: the inbox is kept in memory, for as long as the page is open. */
  const inMemory = ref(false)
  // Until the whole local inbox is read, the counts come from the snapshot.
  const snapshotCounts = shallowRef<{ unread: number, total: number } | null>(null)
  const unread = computed(() => snapshotCounts.value?.unread ?? items.value.reduce((n, i) => n + (i.readAt ? 0 : 1), 0))
  const total = computed(() => snapshotCounts.value?.total ?? items.value.length)
  const byId = new Map<string, InboxItem>()
  let broadcast: BroadcastChannel | null = null
  let owner: string | null = null
  // Bumped whenever the owner changes (open, reset): a sync, a live message or a read begun for
  // one user checks it after every wait, and stores or shows nothing once another owner came.
  let generation = 0
  // Whether IndexedDB holds the owner's inbox yet (open wipes another user's first); false when
  // it could not be opened.
  let claimed: Promise<boolean> = Promise.resolve(true)
  const disownedListeners = new Set<() => void>()

  /**
   * Whether the inbox in IndexedDB is still `user`'s, this tab's owner, checked before every
   * write: another tab may have logged in as someone else, or out, meanwhile. If not, the write
   * is not made, and the listeners hear of it (plugins/session-check.client.ts: the tab leaves).
   */
  async function stillOwned(user: string): Promise<boolean> {
    if (!await claimed) return false
    const stored = await useInboxDb().meta.getItem<string>('owner')
    if (owner !== user) return false
    if (stored === user) return true
    for (const listener of disownedListeners) listener()
    return false
  }

  function onDisowned(listener: () => void) {
    disownedListeners.add(listener)
    return () => disownedListeners.delete(listener)
  }

  /**
   * Shows these copies (read state only moves forward, as in IndexedDB); returns how many
   * changed what this tab shows.
   */
  function apply(incoming: InboxItem[]): number {
    const fresh = incoming.filter(item => changes(byId.get(item.id) ?? null, item))
    if (!fresh.length) return 0
    for (const item of fresh) byId.set(item.id, mergeItem(byId.get(item.id) ?? null, item))
    items.value = [...byId.values()].sort(newestFirst)
    saveSnapshotSoon()
    return fresh.length
  }

  let snapshotTimer: ReturnType<typeof setTimeout> | undefined
  /** Keeps the snapshot the next start shows first (only from the whole inbox, never from one). */
  function saveSnapshotSoon() {
    if (!loaded.value || !owner) return
    clearTimeout(snapshotTimer)
    const user = owner
    snapshotTimer = setTimeout(() => {
      if (owner !== user) return
      stillOwned(user)
        .then(async (mine) => {
          if (mine) await useInboxDb().meta.setItem(SNAPSHOT_KEY, snapshotOf(user, items.value))
        })
        .catch((error: unknown) => console.warn('mercury: could not store the inbox snapshot', error))
    }, SNAPSHOT_DELAY_MS)
  }

  function applyRead(ids: string[] | 'all', readAt: string, upTo?: string | null) {
    const targets = ids === 'all' ? [...byId.values()].filter(i => withinUpTo(i, upTo)) : ids.map(id => byId.get(id)).filter(i => !!i)
    apply(targets.filter(i => !i.readAt).map(i => ({ ...i, readAt })))
  }

  /**
   * Opens the local inbox of this user (another user's is wiped first), then syncs. The snapshot
   * (newest items and counts, one record) shows first; every stored item follows.
   */
  async function open(userId: string) {
    if (owner === userId) return
    owner = userId
    const mine = ++generation
    performance.mark('mercury:inbox-open')
    const { inbox } = useInboxDb()
    const reads = preloaded?.userId === userId ? preloaded : startReads(userId)
    preloaded = null
    forgetShown()
    const wasMine = reads.owner.then(async (previous) => {
      if (previous === userId) return true
      await wipe(userId)
      return false
    })
    claimed = wasMine.then(() => true, () => false)
    void inboxInMemory().then(memory => inMemory.value = memory, () => {})
    if (await wasMine) {
      const snapshot = await reads.snapshot.catch(() => null)
      if (snapshot?.owner === userId && mine === generation) {
        snapshotCounts.value = { unread: snapshot.unread, total: snapshot.total }
        apply(snapshot.items)
        performance.mark('mercury:inbox-snapshot')
      }
      // A read started before the page was ready may have failed: read once more.
      const stored = await reads.all.catch(() => inbox.all())
      if (mine === generation) {
        apply(stored)
        performance.mark('mercury:inbox-read')
      }
    }
    if (mine !== generation) return
    snapshotCounts.value = null
    loaded.value = true
    saveSnapshotSoon()
    broadcast ??= listen()
    await refreshPending()
    void sync()
    if (await stillOwned(userId)) void inbox.prune()
  }

  function listen() {
    const channel = new BroadcastChannel(INBOX_CHANNEL)
    // The service worker stored a push, or another tab changed read state.
    channel.onmessage = ({ data }: MessageEvent<InboxBroadcast>) => {
      if (!owner || data.owner !== owner) return
      if (data.type === 'added') apply(data.items)
      if (data.type === 'read') applyRead(data.ids, data.readAt, data.upTo)
    }
    return channel
  }

  // Told of notifications that arrive live and were not in this tab yet (the layout announces them).
  const arrivalListeners = new Set<(items: InboxItem[]) => void>()
  function onArrival(listener: (items: InboxItem[]) => void) {
    arrivalListeners.add(listener)
    return () => arrivalListeners.delete(listener)
  }

  /**
   * Stores notifications that arrived live; harmless when they are already there. What is stored
   * is shown, also when another tab (on its own /channel) stored it first.
   */
  async function receive(incoming: InboxItem[]) {
    const user = owner
    if (!user) return
    const mine = generation
    if (!await stillOwned(user)) return
    const { stored } = await useInboxDb().inbox.add(incoming)
    if (mine !== generation) return
    const arrived = stored.filter(item => !byId.has(item.id))
    apply(stored)
    if (arrived.length) for (const listener of arrivalListeners) listener(arrived)
  }

  /**
   * Pulls the newest pages from the server until a page brings nothing this tab does not show yet.
   * What IndexedDB holds is what counts, not what this tab wrote: another tab syncing at the same
   * time may have stored these items first.
   */
  let syncRun: { generation: number } | null = null
  async function sync() {
    const user = owner
    if (!user || syncRun?.generation === generation) return
    const run = { generation }
    const current = () => run.generation === generation
    syncRun = run
    syncing.value = true
    lastSyncError.value = ''
    try {
      await flushReads()
      const { inbox } = useInboxDb()
      let before: string | null = null
      let beforeId: string | null = null
      for (let page = 0; page < MAX_SYNC_PAGES && current(); page++) {
        const query: Record<string, string | number> = { limit: PAGE }
        if (before) query.before = before
        if (beforeId) query.beforeId = beforeId
        const res: InboxPage = await $fetch<InboxPage>('/api/inbox', { query, timeout: PAGE_ANSWER_MS })
        // Asked before a logout or another login: that answer belongs to nobody here any more.
        if (!current() || !await stillOwned(user)) break
        const { stored } = await inbox.add(res.items.map(fromServer))
        if (!current()) break
        const shown = apply(stored)
        before = res.nextBefore
        beforeId = res.nextBeforeId
        if (!before || (page > 0 && shown === 0)) break
      }
    }
    catch (error) {
      if (current()) lastSyncError.value = unreachable(error) ? 'offline' : 'error'
    }
    finally {
      if (syncRun === run) {
        syncRun = null
        syncing.value = false
      }
    }
  }

  /**
   * Queues the read before marking anything read here: a read that shows on this device is always
   * on its way to the server, whatever stops the page after. "All" is all this device shows: up to
   * its newest item, so what was published since (unseen, maybe while offline) stays unread.
   */
  async function markRead(ids: string[] | 'all') {
    const user = owner
    if (!user) return
    const { inbox, readQueue } = useInboxDb()
    const readAt = new Date().toISOString()
    const targets = ids === 'all' ? 'all' : ids.filter(id => byId.has(id) && !byId.get(id)!.readAt)
    const upTo = ids === 'all' ? items.value[0]?.createdAt : null
    if ((targets !== 'all' ? targets.length === 0 : !upTo) || !await stillOwned(user)) return
    await readQueue.add(targets, upTo)
    await inbox.markRead(targets, readAt, upTo)
    applyRead(targets, readAt, upTo)
    const message: InboxBroadcast = { type: 'read', owner: user, ids: targets, readAt, upTo }
    broadcast?.postMessage(message)
    await flushReads()
  }

  /** Another device of the user read these (a `read` frame from /channel). */
  async function readElsewhere(ids: string[] | 'all', readAt: string, upTo?: string | null) {
    const user = owner
    if (!user) return
    const mine = generation
    if (!await stillOwned(user)) return
    await useInboxDb().inbox.markRead(ids, readAt, upTo)
    if (mine === generation) applyRead(ids, readAt, upTo)
  }

  async function refreshPending() {
    if (!owner) return
    const { ids, all } = await useInboxDb().readQueue.pending()
    pendingReads.value = ids.length + (all ? 1 : 0)
  }

  /**
   * Sends queued reads; what cannot reach the server stays queued for the next try. Asked while a
   * flush is sending, it flushes once more after it: that one read the queue before the new reads.
   */
  const flushReads = oneAtATime(async () => {
    const { readQueue } = useInboxDb()
    const user = owner
    try {
      // The queue is the inbox owner's: the reads of another user are not this tab's to send.
      if (!user || !await stillOwned(user)) return
      for (const request of readRequests(await readQueue.pending())) {
        if (owner !== user) return // logged out meanwhile: the queue went with the inbox
        await send(request, () => 'all' in request ? readQueue.done('all', request.upTo) : readQueue.done(request.ids))
      }
    }
    catch { /* unreachable: kept for later */ }
    finally {
      await refreshPending()
    }
  })

  async function send(body: ReadRequest, done: () => Promise<void>) {
    try {
      await $fetch('/api/inbox/read', { method: 'POST', body, timeout: READ_ANSWER_MS })
      await done()
    }
    catch (error) {
      if (unreachable(error)) throw error
      await done() // refused (e.g. unknown ids): retrying would not help
    }
  }

  /** The requests that would send the reads still queued (none when the inbox is not this tab's). */
  async function queuedReads(): Promise<ReadRequest[]> {
    const user = owner
    if (!user || !await stillOwned(user)) return []
    return readRequests(await useInboxDb().readQueue.pending())
  }

  /**
   * Lets go of the inbox without touching IndexedDB: it is no longer this tab's user's (another
   * tab logged in as someone else, or out, and wiped or will wipe it).
   */
  function leave() {
    clearTimeout(snapshotTimer)
    owner = null
    generation++
    forgetShown()
    loaded.value = false
    pendingReads.value = 0
  }

  /** Forgets everything local (logout). */
  async function reset() {
    leave()
    await wipe(null)
  }

  /**
   * Empties the inbox in IndexedDB for `next` (null: nobody) and closes the previous user's
   * notifications. The owner goes first: the other tabs and the worker check it before each write.
   */
  async function wipe(next: string | null) {
    const { inbox, readQueue, meta } = useInboxDb()
    await meta.removeItem('owner')
    await Promise.all([inbox.clear(), readQueue.clear(), meta.removeItem(SNAPSHOT_KEY), closeShownNotifications(next)])
    if (next) await meta.setItem('owner', next)
    // Once more: the worker, storing a push when the owner went, may have shown it since.
    await closeShownNotifications(next)
  }

  /** The notifications the previous user's pushes left on screen go with the inbox; `keep`'s stay. */
  async function closeShownNotifications(keep: string | null) {
    try {
      const registration = await navigator.serviceWorker?.getRegistration()
      for (const notification of await registration?.getNotifications() ?? []) {
        if (!keep || notification.data?.owner !== keep) notification.close()
      }
    }
    catch { /* no service worker here: nothing shown */ }
  }

  /** Shows nothing (a new owner's inbox, or none). */
  function forgetShown() {
    byId.clear()
    items.value = []
    snapshotCounts.value = null
  }

  return { items, loaded, syncing, lastSyncError, pendingReads, inMemory, unread, total, open, receive, onArrival, onDisowned, sync, markRead, readElsewhere, flushReads, queuedReads, leave, reset }
})
