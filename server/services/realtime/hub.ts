import type { ChannelLayer, StreamEntry } from './layer'

/**
 * A frame going to many peers (a live message): its WebSocket encoding is made once, on the first
 * peer that can take it, and the same bytes are written to every other one.
 */
export class SharedFrame {
  private encoded?: Buffer
  constructor(readonly text: string) {}

  /** The whole WebSocket frame (server to client: unmasked, final, text). */
  get wire(): Buffer {
    return this.encoded ??= encodeTextFrame(this.text)
  }
}

export function encodeTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text)
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81 // FIN + text
  if (header === 2) frame[1] = length
  else if (header === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  }
  else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  frame.write(text, header, 'utf8')
  return frame
}

/** What the hub needs of a WebSocket peer; the routes adapt crossws peers to it. */
export interface Socket {
  /**
   * Sends a frame. True when it went straight out; false when it had to wait behind what is
   * already queued (the peer reads slower than it is written to): then see bufferedAmount().
   */
  send(frame: string | SharedFrame): boolean
  close(code: number, reason: string): void
  /** Drops the TCP connection without a closing handshake. */
  terminate(): void
  ping(): void
  /** Bytes queued and not yet written to the network. */
  bufferedAmount(): number
}

interface TopicState {
  /** Newest offset sent to this connection: an entry at or below it is never sent again. */
  lastOffset: number
  /** Where the subscription started: lastOffset is still there while nothing has been sent. */
  from: number
  /** Live entries that arrived while history was being replayed; null once live. */
  buffer: StreamEntry[] | null
}

export interface Connection {
  readonly id: string
  readonly kind: 'channel' | 'datalink'
  readonly userId?: string
  readonly sourceId?: string
  readonly socket: Socket
  readonly topics: Map<string, TopicState>
  alive: boolean
  closed: boolean
  /** Frames this connection may still send now (rate limit). */
  frames?: { take(): boolean }
  /** When the last rate_limited error was sent: at most one a second. */
  limitedAt?: number
}

export interface HubOptions {
  /** Unsent bytes past which a connection is dropped as a slow consumer. */
  maxBufferedBytes: number
  /** History entries replayed per page on subscribe. */
  replayPage: number
}

export const CLOSE = {
  /** Token revoked or rotated, source deactivated or deleted, user deleted. */
  UNAUTHORIZED: 4001,
  /** The peer did not read its messages fast enough. */
  SLOW_CONSUMER: 4008,
  /** The server is shutting down. */
  GOING_AWAY: 1001,
} as const

/**
 * One per instance: the connections of this process and the topics they follow. It subscribes
 * to the channel layer once per topic, fans each entry out locally with the frame serialized
 * once, and replays history on subscribe so that each connection gets every message exactly once,
 * in offset order.
 */
export class Hub {
  private readonly connections = new Map<string, Connection>()
  /** Per topic, its connections with their state for it (the same object as in conn.topics). */
  private readonly topics = new Map<string, Map<Connection, TopicState>>()
  private readonly users = new Map<string, Set<Connection>>()
  private readonly sources = new Map<string, Set<Connection>>()
  private readonly layerTopics = new Map<string, Promise<void>>()

  constructor(private readonly layer: ChannelLayer, private readonly options: HubOptions) {
    layer.onEntry((topic, entry) => this.deliver(topic, entry))
    layer.onResync(() => {
      for (const topic of [...this.topics.keys()]) void this.resyncWithRetry(topic)
    })
  }

  private async resyncWithRetry(topic: string) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.resync(topic)
      }
      catch (error) {
        if (attempt >= 10 || !this.topics.has(topic)) {
          console.warn(`mercury: could not catch up on ${topic}:`, (error as Error).message)
          return
        }
        await new Promise(resolve => setTimeout(resolve, 500 * attempt))
      }
    }
  }

  /**
   * After the layer missed live entries: replay them from history to every connection of the
   * topic (buffering what arrives meanwhile). If the stream store lost its data and offsets
   * restarted, each connection is told with a `subscribed` frame with recovered:false.
   */
  private async resync(topic: string) {
    const states = [...this.topics.get(topic) ?? []].filter(([, state]) => state.buffer === null)
    if (states.length === 0) return
    for (const [, state] of states) state.buffer = []
    try {
      let cursor = Math.min(...states.map(([, state]) => state.lastOffset))
      for (let first = true; ; first = false) {
        const page = await this.layer.history(topic, cursor, this.options.replayPage)
        if (first && page.lastOffset < cursor) {
          for (const [conn, state] of states) {
            state.lastOffset = 0
            this.send(conn, subscribedFrame(topic, page.lastOffset, false))
          }
          cursor = 0
          continue
        }
        for (const entry of page.entries) {
          for (const [conn, state] of states) this.sendEntry(conn, state, entry)
        }
        if (page.entries.length < this.options.replayPage) break
        cursor = page.entries[page.entries.length - 1]!.offset
      }
    }
    finally {
      for (const [conn, state] of states) {
        if (conn.topics.get(topic) !== state) continue
        const buffered = state.buffer ?? []
        state.buffer = null
        for (const entry of buffered) this.sendEntry(conn, state, entry)
      }
    }
  }

  add(conn: Connection): void {
    this.connections.set(conn.id, conn)
    const key = conn.userId ?? conn.sourceId
    const index = conn.kind === 'channel' ? this.users : this.sources
    if (key) addTo(index, key, conn)
  }

  remove(conn: Connection): void {
    if (!this.connections.delete(conn.id)) return
    conn.closed = true
    for (const topic of [...conn.topics.keys()]) this.leave(conn, topic)
    const key = conn.userId ?? conn.sourceId
    const index = conn.kind === 'channel' ? this.users : this.sources
    if (key) removeFrom(index, key, conn)
  }

  /**
   * Follows a topic. Without `since`: from now on. With `since`: first every retained message
   * after that offset, then live ones; `recovered` is false when some of them are gone.
   */
  async subscribe(conn: Connection, topic: string, since?: number, ref?: unknown): Promise<void> {
    // Subscribing again to a topic this connection follows live: what it was sent stays sent
    // (each message arrives once per connection), so a `since` before that starts after it.
    // Until something was sent, a new `since` is taken as it is.
    const previous = conn.topics.get(topic)
    const sent = previous && previous.buffer === null && previous.lastOffset > previous.from ? previous : null
    if (sent && since !== undefined) since = Math.max(since, sent.lastOffset)
    const state: TopicState = { lastOffset: Number.MAX_SAFE_INTEGER, from: Number.MAX_SAFE_INTEGER, buffer: [] }
    conn.topics.set(topic, state)
    let members = this.topics.get(topic)
    if (!members) {
      members = new Map()
      this.topics.set(topic, members)
    }
    members.set(conn, state)
    try {
      await this.ensureLayerSubscription(topic)
      if (since === undefined) {
        state.lastOffset = state.from = await this.layer.lastOffset(topic)
        if (!this.current(conn, topic, state)) return
        this.send(conn, subscribedFrame(topic, state.lastOffset, true, ref))
      }
      else {
        await this.replay(conn, topic, state, since, ref)
        if (!this.current(conn, topic, state)) return
      }
      if (sent) state.from = Math.min(state.from, sent.from)
      const buffered = state.buffer ?? []
      state.buffer = null
      for (const entry of buffered) this.sendEntry(conn, state, entry)
    }
    catch (error) {
      if (this.current(conn, topic, state)) this.leave(conn, topic)
      throw error
    }
  }

  private async replay(conn: Connection, topic: string, state: TopicState, since: number, ref: unknown) {
    let first = true
    let cursor = since
    for (;;) {
      const page = await this.layer.history(topic, cursor, this.options.replayPage)
      if (!this.current(conn, topic, state)) return
      if (first) {
        this.send(conn, subscribedFrame(topic, page.lastOffset, page.recovered, ref))
        // A `since` past the newest offset is from before the stream restarted (Redis lost its
        // data, say): recovered:false, and every message from now on is new to this client.
        state.lastOffset = state.from = Math.min(since, page.lastOffset)
        first = false
      }
      for (const entry of page.entries) this.sendEntry(conn, state, entry)
      if (page.entries.length < this.options.replayPage) return
      cursor = page.entries[page.entries.length - 1]!.offset
      await this.drained(conn)
    }
  }

  /** Waits while the peer's send buffer is over half the limit, so a replay never trips it. */
  private async drained(conn: Connection) {
    const limit = this.options.maxBufferedBytes / 2
    for (let waited = 0; !conn.closed && conn.socket.bufferedAmount() > limit; waited += 10) {
      if (waited > 30_000) return
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }

  private current(conn: Connection, topic: string, state: TopicState): boolean {
    return !conn.closed && conn.topics.get(topic) === state
  }

  /**
   * Says again, unasked, that this connection follows the topic (a stored subscription was added
   * while a live view followed it). Nothing else changes; while the topic's history is still being
   * replayed to it, that replay's own frame is the one it gets.
   */
  sendSubscribed(conn: Connection, topic: string): void {
    const state = conn.topics.get(topic)
    if (state?.buffer === null) this.send(conn, subscribedFrame(topic, state.lastOffset, true))
  }

  unsubscribe(conn: Connection, topic: string): boolean {
    if (!conn.topics.has(topic)) return false
    this.leave(conn, topic)
    return true
  }

  private leave(conn: Connection, topic: string) {
    conn.topics.delete(topic)
    const members = this.topics.get(topic)
    if (!members) return
    members.delete(conn)
    if (members.size === 0) {
      this.topics.delete(topic)
      const pending = this.layerTopics.get(topic)
      this.layerTopics.delete(topic)
      // Unsubscribe after any subscribe in flight, and only if nobody came back meanwhile.
      void (pending ?? Promise.resolve()).catch(() => {}).then(() => {
        if (!this.topics.has(topic)) return this.layer.unsubscribe(topic)
      }).catch(() => {})
    }
  }

  private ensureLayerSubscription(topic: string): Promise<void> {
    let pending = this.layerTopics.get(topic)
    if (!pending) {
      pending = this.layer.subscribe(topic)
      pending.catch(() => this.layerTopics.delete(topic))
      this.layerTopics.set(topic, pending)
    }
    return pending
  }

  private deliver(topic: string, entry: StreamEntry) {
    const members = this.topics.get(topic)
    if (!members) return
    const shared = new SharedFrame(entry.frame)
    members.forEach((state, conn) => {
      if (state.buffer) state.buffer.push(entry)
      else this.sendEntry(conn, state, entry, shared)
    })
  }

  private sendEntry(conn: Connection, state: TopicState, entry: StreamEntry, shared?: SharedFrame) {
    if (entry.offset <= state.lastOffset) return
    state.lastOffset = entry.offset
    this.send(conn, shared ?? entry.frame)
  }

  /**
   * Sends a frame, and drops the connection once it has fallen too far behind. What is waiting is
   * only measured when the frame could not go straight out: a peer that keeps up costs no check.
   */
  send(conn: Connection, frame: string | SharedFrame): void {
    if (conn.closed || conn.socket.send(frame)) return
    if (conn.socket.bufferedAmount() > this.options.maxBufferedBytes) {
      this.disconnect(conn, CLOSE.SLOW_CONSUMER, 'slow consumer: too many unsent messages')
    }
  }

  disconnect(conn: Connection, code: number, reason: string): void {
    this.remove(conn)
    try {
      conn.socket.close(code, reason)
    }
    catch {
      conn.socket.terminate()
    }
  }

  sendToUser(userId: string, frame: string): void {
    for (const conn of this.users.get(userId) ?? []) this.send(conn, frame)
  }

  connectedUsers(): string[] {
    return [...this.users.keys()]
  }

  userConnections(userId: string): Connection[] {
    return [...this.users.get(userId) ?? []]
  }

  sourceConnections(sourceId: string): Connection[] {
    return [...this.sources.get(sourceId) ?? []]
  }

  /** Pings every connection; one that did not answer the previous ping is dropped. */
  heartbeat(): void {
    for (const conn of [...this.connections.values()]) {
      if (!conn.alive) {
        this.remove(conn)
        conn.socket.terminate()
        continue
      }
      conn.alive = false
      try {
        conn.socket.ping()
      }
      catch {
        this.remove(conn)
      }
    }
  }

  closeAll(code: number, reason: string): void {
    for (const conn of [...this.connections.values()]) this.disconnect(conn, code, reason)
  }

  stats() {
    let channel = 0
    for (const conn of this.connections.values()) if (conn.kind === 'channel') channel++
    return {
      connections: this.connections.size,
      channelConnections: channel,
      datalinkConnections: this.connections.size - channel,
      topics: this.topics.size,
      users: this.users.size,
      sources: this.sources.size,
    }
  }
}

export function subscribedFrame(topic: string, offset: number, recovered: boolean, ref?: unknown): string {
  return JSON.stringify({ type: 'subscribed', topic, offset, recovered, ...(ref === undefined ? {} : { ref }) })
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V) {
  let set = map.get(key)
  if (!set) {
    set = new Set()
    map.set(key, set)
  }
  set.add(value)
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V) {
  const set = map.get(key)
  if (!set) return
  set.delete(value)
  if (set.size === 0) map.delete(key)
}
