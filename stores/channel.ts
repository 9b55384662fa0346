// The /channel connection: follows the user's topics live, reconnects with backoff and jitter,
// resumes each topic from the last offset seen, and feeds the inbox.
import { defineStore } from 'pinia'
import { fromFrame, type InboxItem, type MessageFrame } from '#shared/inbox/types'
import { backoffDelay } from '#shared/utils/backoff'

export type ChannelStatus = 'connecting' | 'live' | 'reconnecting' | 'offline'

export interface LiveMessage {
  id: string
  topic: string
  offset: number
  event: string
  data: unknown
  notification?: MessageFrame['notification']
  createdAt: string
}

const LIVE_KEEP = 200

type ServerFrame
  = | { type: 'subscribed', topic: string, offset: number, recovered: boolean, ref?: unknown }
    | (MessageFrame & { event: string, data: unknown })
    | { type: 'read', ids?: string[], all?: boolean, upTo?: string, readAt: string }
    | { type: 'unsubscribed', topic: string }
    | { type: 'error', code: string, message: string, ref?: unknown }
    | { type: 'pong' }

export const useChannelStore = defineStore('channel', () => {
  const inbox = useInboxStore()
  const nuxtApp = useNuxtApp()
  const state = ref<ChannelStatus>('offline')
  const online = ref(true)
  const status = computed<ChannelStatus>(() => (online.value ? state.value : 'offline'))
  const following = ref<string[]>([])
  const live = shallowRef<Record<string, LiveMessage[]>>({})
  const lastError = ref('')
  /** Live views the server refused (no read access, bad name): topic → its message. */
  const refused = ref<Record<string, string>>({})
  // The ref of each live view's subscribe (a topic may be too long to be a ref itself).
  const liveRefs = new Map<string, string>()
  function liveRef(topic: string): string {
    const known = [...liveRefs].find(([, t]) => t === topic)?.[0]
    if (known) return known
    const ref = `live-${liveRefs.size + 1}`
    liveRefs.set(ref, topic)
    return ref
  }
  const offsets = new Map<string, number>()
  const extra = new Set<string>()
  // Topics of the user's stored subscriptions (joined by the server, unasked). Only their
  // notifications belong in the inbox; a live view of another topic shows them but keeps out.
  const stored = new Set<string>()
  const asked = new Set<string>()
  // After a reconnect the stored subscriptions this tab knew are resumed at once (nothing missed),
  // but one may have been deleted on another device meanwhile: each stays unconfirmed, its
  // notifications held out of the inbox, until the server joins it (an unasked `subscribed`) or
  // GET /api/subscriptions lists it; one it does not list is left.
  const unconfirmed = new Set<string>()
  let held: InboxItem[] = []
  let confirmRun = 0
  /** The refs of the subscribes that resume them: ref → topic. */
  const resumeRefs = new Map<string, string>()
  let socket: WebSocket | null = null
  let attempt = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let wanted = false
  let everOpened = false

  function url() {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/channel`
  }

  function send(frame: { type: string, topic?: string, since?: number, ref?: string }) {
    if (socket?.readyState !== WebSocket.OPEN) return
    if (frame.type === 'subscribe' && frame.topic && !stored.has(frame.topic) && !unconfirmed.has(frame.topic)) asked.add(frame.topic)
    socket.send(JSON.stringify(frame))
  }

  function connect() {
    if (wanted) return
    wanted = true
    online.value = navigator.onLine
    window.addEventListener('online', onOnline)
    window.addEventListener('offline', onOffline)
    open()
  }

  /** Ends the connection with the session: the next user's first one starts afresh. */
  function disconnect() {
    wanted = false
    attempt = 0
    everOpened = false
    clearTimeout(timer)
    window.removeEventListener('online', onOnline)
    window.removeEventListener('offline', onOffline)
    socket?.close()
    socket = null
    state.value = 'offline'
    offsets.clear()
    extra.clear()
    refused.value = {}
    liveRefs.clear()
    stored.clear()
    asked.clear()
    unconfirmed.clear()
    held = []
    confirmRun++
    resumeRefs.clear()
    following.value = []
    live.value = {}
  }

  function open() {
    clearTimeout(timer)
    if (!wanted || socket) return
    state.value = attempt === 0 && !everOpened ? 'connecting' : 'reconnecting'
    const ws = new WebSocket(url())
    socket = ws
    ws.onopen = () => {
      const reconnected = everOpened
      attempt = 0
      everOpened = true
      state.value = 'live'
      // Stored subscriptions are joined by the server; resuming them from our offsets replays
      // what was missed, and the extra topics (live views) are asked for again.
      if (reconnected) {
        for (const topic of stored) unconfirmed.add(topic)
        stored.clear()
        resumeRefs.clear()
        void confirmStored()
        // The server went away and came back: often a deploy, whose new release is offered.
        void nuxtApp.$checkForUpdate()
      }
      for (const [topic, since] of offsets) {
        if (!unconfirmed.has(topic)) send({ type: 'subscribe', topic, since })
        else {
          const ref = `resume-${resumeRefs.size + 1}`
          resumeRefs.set(ref, topic)
          send({ type: 'subscribe', topic, since, ref })
        }
      }
      for (const topic of extra) if (!offsets.has(topic)) send({ type: 'subscribe', topic, ref: liveRef(topic) })
      void inbox.flushReads()
      // After a drop, and also on the first connection of a page that could not sync when it
      // loaded (opened offline): what was published meanwhile is fetched.
      if (reconnected || inbox.lastSyncError) void inbox.sync()
    }
    ws.onmessage = ({ data }) => {
      try {
        handle(JSON.parse(String(data)) as ServerFrame)
      }
      catch (error) {
        console.error('mercury: bad /channel frame', error)
      }
    }
    ws.onclose = ({ code }) => {
      if (socket !== ws) return
      socket = null
      // Closed for its credentials (4001), or refused before it opened (an upgrade answered 401
      // looks like any failed connection): the session may have ended elsewhere.
      if (code === 4001 || state.value !== 'live') void nuxtApp.$checkSession()
      if (wanted) schedule()
    }
  }

  function schedule() {
    state.value = 'reconnecting'
    const delay = backoffDelay(attempt++)
    timer = setTimeout(open, delay)
  }

  function onOnline() {
    online.value = true
    attempt = 0
    if (!socket) open()
    if (inbox.lastSyncError) void inbox.sync()
    else void inbox.flushReads()
  }

  function onOffline() {
    online.value = false
  }

  function handle(frame: ServerFrame) {
    switch (frame.type) {
      case 'subscribed': {
        if (frame.topic in refused.value) refused.value = withoutKey(refused.value, frame.topic)
        // Joined by the server with nothing of it seen here yet (this page's first connection).
        let joinedFresh = false
        if (asked.has(frame.topic)) asked.delete(frame.topic)
        else if (!(typeof frame.ref === 'string' && resumeRefs.has(frame.ref))) { // the server joined it
          joinedFresh = frame.ref === undefined && !offsets.has(frame.topic)
          keepStored(frame.topic)
        }
        // (A resume's own answer says nothing of that: the topic stays unconfirmed.)
        if (!following.value.includes(frame.topic)) following.value = [...following.value, frame.topic].sort()
        if (!frame.recovered) {
          offsets.set(frame.topic, frame.offset)
          void inbox.sync()
        }
        else if (!offsets.has(frame.topic)) {
          offsets.set(frame.topic, frame.offset)
        }
        // The server holds a joined topic's live messages a moment for a client that resumes it
        // from its own offset; this page has none, so it follows the topic from the join at once.
        if (joinedFresh) send({ type: 'subscribe', topic: frame.topic, since: frame.offset })
        break
      }
      case 'message':
        onMessage(frame)
        break
      case 'read':
        void inbox.readElsewhere(frame.all ? 'all' : frame.ids ?? [], frame.readAt, frame.upTo)
        break
      case 'unsubscribed':
        leave(frame.topic)
        // A live view still wants it (its stored subscription was deleted, or read access taken):
        // asked again, the answer is either the topic or a refusal the page shows.
        if (extra.has(frame.topic)) send({ type: 'subscribe', topic: frame.topic, ref: liveRef(frame.topic) })
        break
      case 'error':
        // A live view's subscribe carries the topic in its ref: the page can say why it stays empty.
        if (typeof frame.ref === 'string' && liveRefs.has(frame.ref)) {
          const topic = liveRefs.get(frame.ref)!
          extra.delete(topic)
          asked.delete(topic)
          refused.value = { ...refused.value, [topic]: frame.message }
        }
        // A stored subscription that can no longer be read (access taken while this tab was away).
        else if (typeof frame.ref === 'string' && resumeRefs.has(frame.ref)) leave(resumeRefs.get(frame.ref)!)
        else lastError.value = frame.message
        break
    }
  }

  function onMessage(frame: MessageFrame & { event: string, data: unknown }) {
    offsets.set(frame.topic, Math.max(offsets.get(frame.topic) ?? 0, frame.offset))
    const list = live.value[frame.topic] ?? []
    if (!list.some(m => m.id === frame.id)) {
      const message: LiveMessage = { id: frame.id, topic: frame.topic, offset: frame.offset, event: frame.event, data: frame.data, notification: frame.notification, createdAt: frame.createdAt }
      live.value = { ...live.value, [frame.topic]: [message, ...list].slice(0, LIVE_KEEP) }
    }
    const item = stored.has(frame.topic) || unconfirmed.has(frame.topic) ? fromFrame(frame) : null
    if (item && unconfirmed.has(frame.topic)) held.push(item)
    else if (item) void inbox.receive([item])
  }

  /** The topic is settled (see `unconfirmed`): what was held of it is handed back. */
  function settle(topic: string): InboxItem[] {
    if (!unconfirmed.delete(topic)) return []
    const mine = held.filter(item => item.topic === topic)
    held = held.filter(item => item.topic !== topic)
    return mine
  }

  /** The topic is one of the user's stored subscriptions: its notifications go to the inbox. */
  function keepStored(topic: string) {
    stored.add(topic)
    const mine = settle(topic)
    if (mine.length) void inbox.receive(mine)
  }

  /** No longer followed on this connection. */
  function leave(topic: string) {
    following.value = following.value.filter(t => t !== topic)
    offsets.delete(topic)
    stored.delete(topic)
    settle(topic)
  }

  /** Settles the stored subscriptions resumed after a reconnect (see `unconfirmed`). */
  async function confirmStored() {
    const run = ++confirmRun
    let current: Set<string> | null = null
    try {
      current = new Set((await $fetch<{ topic: string }[]>('/api/subscriptions')).map(s => s.topic))
    }
    catch { /* unreachable or refused: kept as they were before the drop */ }
    if (run !== confirmRun) return
    for (const topic of [...unconfirmed]) {
      if (!current || current.has(topic)) {
        keepStored(topic)
        continue
      }
      // Deleted elsewhere while this tab was away: left, or kept out of the inbox while a live
      // view still shows it.
      if (extra.has(topic)) {
        settle(topic)
      }
      else {
        leave(topic)
        send({ type: 'unsubscribe', topic })
      }
    }
  }

  /** Follows a topic on this connection (a live view of a topic not subscribed to). */
  function follow(topic: string) {
    extra.add(topic)
    if (topic in refused.value) refused.value = withoutKey(refused.value, topic)
    if (!following.value.includes(topic)) send({ type: 'subscribe', topic, ref: liveRef(topic) })
  }

  /** Subscriptions changed elsewhere in the app: the server joins or leaves the topic itself. */
  function forget(topic: string) {
    offsets.delete(topic)
    extra.delete(topic)
  }

  return { status, following, live, lastError, refused, connect, disconnect, follow, forget }
})

function withoutKey(record: Record<string, string>, key: string): Record<string, string> {
  const { [key]: _, ...rest } = record
  return rest
}
