// The inbox the pages show: IndexedDB first (instant, offline), then the server. Read state goes
// to the server through a queue kept in IndexedDB, so a read made offline is sent once back online.
import { defineStore } from 'pinia'
import { INBOX_CHANNEL, useInboxDb, type InboxBroadcast } from '#shared/inbox/browser'
import { newestFirst } from '#shared/inbox/logic'
import { fromServer, type InboxItem, type ServerInboxEntry } from '#shared/inbox/types'

const PAGE = 500
const MAX_SYNC_PAGES = 20
const READ_BATCH = 1000

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
  const unread = computed(() => items.value.reduce((n, i) => n + (i.readAt ? 0 : 1), 0))
  const byId = new Map<string, InboxItem>()
  let broadcast: BroadcastChannel | null = null
  let owner: string | null = null

  function apply(changed: InboxItem[]) {
    if (!changed.length) return
    for (const item of changed) byId.set(item.id, item)
    items.value = [...byId.values()].sort(newestFirst)
  }

  function applyRead(ids: string[] | 'all', readAt: string) {
    const targets = ids === 'all' ? [...byId.values()] : ids.map(id => byId.get(id)).filter(i => !!i)
    apply(targets.filter(i => !i.readAt).map(i => ({ ...i, readAt })))
  }

  /** Opens the local inbox of this user (another user's is wiped first), then syncs. */
  async function open(userId: string) {
    if (owner === userId) return
    owner = userId
    const { inbox, readQueue, meta } = useInboxDb()
    if (await meta.getItem<string>('owner') !== userId) {
      await Promise.all([inbox.clear(), readQueue.clear()])
      await meta.setItem('owner', userId)
    }
    byId.clear()
    apply(await inbox.all())
    loaded.value = true
    broadcast ??= listen()
    await refreshPending()
    void sync()
    void inbox.prune()
  }

  function listen() {
    const channel = new BroadcastChannel(INBOX_CHANNEL)
    // The service worker stored a push, or another tab changed read state.
    channel.onmessage = ({ data }: MessageEvent<InboxBroadcast>) => {
      if (data.type === 'added') apply(data.items)
      if (data.type === 'read') applyRead(data.ids, data.readAt)
    }
    return channel
  }

  /** Stores notifications that arrived live; harmless when they are already there. */
  async function receive(incoming: InboxItem[]) {
    apply(await useInboxDb().inbox.add(incoming))
  }

  /** Pulls the newest pages from the server until a page brings nothing new. */
  async function sync() {
    if (syncing.value || !owner) return
    syncing.value = true
    lastSyncError.value = ''
    try {
      await flushReads()
      const { inbox } = useInboxDb()
      let before: string | null = null
      let beforeId: string | null = null
      for (let page = 0; page < MAX_SYNC_PAGES; page++) {
        const query: Record<string, string | number> = { limit: PAGE }
        if (before) query.before = before
        if (beforeId) query.beforeId = beforeId
        const res: InboxPage = await $fetch<InboxPage>('/api/inbox', { query })
        const changed = await inbox.add(res.items.map(fromServer))
        apply(changed)
        before = res.nextBefore
        beforeId = res.nextBeforeId
        if (!before || (page > 0 && changed.length === 0)) break
      }
    }
    catch (error) {
      lastSyncError.value = unreachable(error) ? 'offline' : 'error'
    }
    finally {
      syncing.value = false
    }
  }

  async function markRead(ids: string[] | 'all') {
    const { inbox, readQueue } = useInboxDb()
    const readAt = new Date().toISOString()
    const changed = await inbox.markRead(ids, readAt)
    if (ids !== 'all' && changed.length === 0) return
    applyRead(ids === 'all' ? 'all' : changed, readAt)
    const message: InboxBroadcast = { type: 'read', ids: ids === 'all' ? 'all' : changed, readAt }
    broadcast?.postMessage(message)
    await readQueue.add(ids === 'all' ? 'all' : changed)
    await flushReads()
  }

  /** Another device of the user read these (a `read` frame from /channel). */
  async function readElsewhere(ids: string[] | 'all', readAt: string) {
    await useInboxDb().inbox.markRead(ids, readAt)
    applyRead(ids, readAt)
  }

  async function refreshPending() {
    const { ids, all } = await useInboxDb().readQueue.pending()
    pendingReads.value = ids.length + (all ? 1 : 0)
  }

  let flushing: Promise<void> | null = null
  /** Sends queued reads; what cannot reach the server stays queued for the next try. */
  function flushReads(): Promise<void> {
    flushing ??= (async () => {
      const { readQueue } = useInboxDb()
      try {
        const { ids, all } = await readQueue.pending()
        if (all) {
          await send({ all: true }, () => readQueue.done('all'))
        }
        for (let i = 0; i < ids.length; i += READ_BATCH) {
          const batch = ids.slice(i, i + READ_BATCH)
          await send({ ids: batch }, () => readQueue.done(batch))
        }
      }
      catch { /* unreachable: kept for later */ }
      finally {
        flushing = null
        await refreshPending()
      }
    })()
    return flushing
  }

  async function send(body: { ids: string[] } | { all: true }, done: () => Promise<void>) {
    try {
      await $fetch('/api/inbox/read', { method: 'POST', body })
      await done()
    }
    catch (error) {
      if (unreachable(error)) throw error
      await done() // refused (e.g. unknown ids): retrying would not help
    }
  }

  /** Forgets everything local (logout). */
  async function reset() {
    const { inbox, readQueue, meta } = useInboxDb()
    await Promise.all([inbox.clear(), readQueue.clear(), meta.removeItem('owner')])
    byId.clear()
    items.value = []
    owner = null
    loaded.value = false
  }

  return { items, loaded, syncing, lastSyncError, pendingReads, unread, open, receive, sync, markRead, readElsewhere, flushReads, reset }
})
