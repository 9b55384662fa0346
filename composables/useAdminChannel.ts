// One /channel WebSocket for the admin console (the session cookie authenticates it). Admin pages
// listen to its frames; topics they watch are subscribed again, from the last offset seen, after
// a reconnect.

export type AdminFrame = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
type Listener = (frame: AdminFrame) => void

const listeners = new Set<Listener>()
const watched = new Map<string, { count: number, lastOffset: number | null }>()
let socket: WebSocket | null = null
let retry: ReturnType<typeof setTimeout> | undefined
let attempts = 0
let users = 0
const status = ref<'connecting' | 'open' | 'closed'>('closed')
// Asks whether the session still stands (plugins/session-check.client.ts); taken by hold(), which
// runs where the Nuxt app is at hand.
let checkSession: (() => Promise<void>) | null = null

function emit(frame: AdminFrame) {
  for (const listener of listeners) listener(frame)
}

function send(frame: object) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame))
}

function connect() {
  if (socket || !import.meta.client) return
  status.value = 'connecting'
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/channel`
  const ws = new WebSocket(url)
  socket = ws
  ws.onopen = () => {
    const reconnected = attempts > 0
    attempts = 0
    status.value = 'open'
    for (const [topic, state] of watched) send({ type: 'subscribe', topic, ...(state.lastOffset === null ? {} : { since: state.lastOffset }) })
    // Lists may have missed admin events while the socket was down: tell them to reload.
    if (reconnected) emit({ type: 'reconnected' })
  }
  ws.onmessage = ({ data }) => {
    let frame: AdminFrame
    try {
      frame = JSON.parse(String(data))
    }
    catch {
      return
    }
    // The role taken away (or a topic's read access): the app asks who it is now, and an admin
    // page left without the role goes to "Admins only".
    if (frame.type === 'error' && frame.code === 'forbidden') void checkSession?.()
    if (frame.type === 'message' && typeof frame.offset === 'number') {
      const state = watched.get(frame.topic)
      if (state) state.lastOffset = Math.max(state.lastOffset ?? 0, frame.offset)
    }
    emit(frame)
  }
  ws.onclose = ({ code }) => {
    if (socket !== ws) return
    socket = null
    const wasOpen = status.value === 'open'
    status.value = 'closed'
    if (users === 0) return
    // Closed for its credentials (4001), or refused before it opened (an upgrade answered 401
    // looks like any failed connection): the session may have ended; if so the app goes to login.
    if (code === 4001 || !wasOpen) void checkSession?.()
    const delay = Math.min(500 * 2 ** attempts++, 5000)
    retry = setTimeout(connect, delay)
  }
}

function disconnect() {
  clearTimeout(retry)
  attempts = 0
  const ws = socket
  socket = null
  status.value = 'closed'
  ws?.close()
}

export function useAdminChannel() {
  return {
    status: readonly(status),
    /** Opens the socket while at least one caller holds it (the admin layout does). */
    hold() {
      checkSession ??= useNuxtApp().$checkSession as () => Promise<void>
      users++
      connect()
      return () => {
        users = Math.max(0, users - 1)
        if (users === 0) disconnect()
      }
    },
    on(listener: Listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    watch(topic: string) {
      const state = watched.get(topic)
      if (state) state.count++
      else {
        watched.set(topic, { count: 1, lastOffset: null })
        send({ type: 'subscribe', topic })
      }
    },
    unwatch(topic: string) {
      const state = watched.get(topic)
      if (!state) return
      if (--state.count > 0) return
      watched.delete(topic)
      send({ type: 'unsubscribe', topic })
    },
  }
}

/**
 * Calls `handler` for every admin frame about `entity` while the calling component is mounted.
 * After a reconnect the admin layout reloads the stores, which may have missed frames meanwhile.
 */
export function onAdminFrame(entity: string | string[], handler: (frame: AdminFrame) => void) {
  const entities = Array.isArray(entity) ? entity : [entity]
  let off: (() => void) | undefined
  onMounted(() => {
    off = useAdminChannel().on((frame) => {
      if (frame.type === 'admin' && entities.includes(frame.entity)) handler(frame)
    })
  })
  onBeforeUnmount(() => off?.())
}
