// The /channel connection: follows the user's topics live, reconnects with backoff and jitter,
// resumes each topic from the last offset seen, and feeds the inbox.
import { defineStore } from 'pinia'
import { fromFrame, type MessageFrame } from '#shared/inbox/types'
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
  = | { type: 'subscribed', topic: string, offset: number, recovered: boolean }
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
    if (frame.type === 'subscribe' && frame.topic && !stored.has(frame.topic)) asked.add(frame.topic)
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

  function disconnect() {
    wanted = false
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
      for (const [topic, since] of offsets) send({ type: 'subscribe', topic, since })
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
      case 'subscribed':
        if (frame.topic in refused.value) refused.value = withoutKey(refused.value, frame.topic)
        if (asked.has(frame.topic)) asked.delete(frame.topic)
        else stored.add(frame.topic)
        if (!following.value.includes(frame.topic)) following.value = [...following.value, frame.topic].sort()
        if (!frame.recovered) {
          offsets.set(frame.topic, frame.offset)
          void inbox.sync()
        }
        else if (!offsets.has(frame.topic)) {
          offsets.set(frame.topic, frame.offset)
        }
        break
      case 'message':
        onMessage(frame)
        break
      case 'read':
        void inbox.readElsewhere(frame.all ? 'all' : frame.ids ?? [], frame.readAt, frame.upTo)
        break
      case 'unsubscribed':
        following.value = following.value.filter(t => t !== frame.topic)
        offsets.delete(frame.topic)
        stored.delete(frame.topic)
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
    const item = stored.has(frame.topic) ? fromFrame(frame) : null
    if (item) void inbox.receive([item])
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
