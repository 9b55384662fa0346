import type { ChannelLayer, StreamEntry } from './layer'
import { errorFrame, unsubscribedFrame } from './frames'

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
  /** Live entries that arrived while history was being replayed (or while held); null once live. */
  buffer: StreamEntry[] | null
  /**
   * Joined unasked (a stored subscription, on connecting): its live entries wait until the client
   * had a moment to subscribe with a `since` of its own (see JOIN_HOLD_MS).
   */
  held?: boolean
  /** Entries the connection was sent before this subscription, skipped by its replay. */
  skip?: { after: number, upTo: number }
  /** The `subscribed` frame this state answered with, once sent. */
  answered?: { offset: number, recovered: boolean }
  /** Refs of earlier subscribes to the topic that this one replaced: answered with it. */
  waiting?: unknown[]
}

/**
 * How long the live messages of a stored subscription joined on connecting wait for the client's
 * own `subscribe` with `since` (a client resuming after a reconnect): that one then gets the
 * missed messages and the live ones in offset order, instead of live ones first.
 */
export const JOIN_HOLD_MS = 1000

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
   * after that offset, then live ones; `recovered` is false when some of them are gone. `hold`:
   * joined unasked (a stored subscription): live messages wait up to JOIN_HOLD_MS for the client's
   * own subscribe, then follow in order.
   */
  async subscribe(conn: Connection, topic: string, since?: number, ref?: unknown, { hold = false } = {}): Promise<void> {
    // A connection already removed would keep the topic (and every message to it, buffered) for
    // ever: remove() leaves only what is registered when it runs. Registered here, before the
    // first await, the state is left by remove() should the connection close meanwhile; each step
    // after an await checks that (current()).
    if (conn.closed) return
    // Subscribing again to a topic this connection follows live: what it was sent stays sent
    // (each message arrives once per connection). A `since` within or after that starts after it;
    // a `since` before it gets the messages before it too, skipping what was sent. Until something
    // was sent, a new `since` is taken as it is; a subscription still held starts where it began.
    const previous = conn.topics.get(topic)
    const sent = previous && previous.buffer === null && previous.lastOffset > previous.from ? previous : null
    let skip: TopicState['skip']
    if (sent && since !== undefined) {
      if (since < sent.from) skip = { after: sent.from, upTo: sent.lastOffset }
      else since = Math.max(since, sent.lastOffset)
    }
    if (previous?.held && since === undefined) since = previous.from
    const state: TopicState = { lastOffset: Number.MAX_SAFE_INTEGER, from: Number.MAX_SAFE_INTEGER, buffer: [], held: hold, skip }
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
        if (!this.current(conn, topic, state)) return this.superseded(conn, topic, ref)
        this.answer(conn, topic, state, state.lastOffset, true, ref)
      }
      else if (!await this.replay(conn, topic, state, since, ref)) return this.superseded(conn, topic, ref)
      if (sent) state.from = Math.min(state.from, sent.from)
      state.skip = undefined
      if (hold) setTimeout(() => void this.release(conn, topic, state), JOIN_HOLD_MS).unref?.()
      else this.goLive(conn, state)
    }
    catch (error) {
      if (this.current(conn, topic, state)) {
        this.leave(conn, topic)
        for (const waiting of state.waiting ?? []) this.send(conn, errorFrame('unavailable', 'could not subscribe now; retry shortly', waiting))
      }
      throw error
    }
  }

  /** Says that the connection follows the topic, to `ref` and to the subscribes this one replaced. */
  private answer(conn: Connection, topic: string, state: TopicState, offset: number, recovered: boolean, ref: unknown) {
    state.answered = { offset, recovered }
    this.send(conn, subscribedFrame(topic, offset, recovered, ref))
    for (const waiting of state.waiting ?? []) this.send(conn, subscribedFrame(topic, offset, recovered, waiting))
    state.waiting = undefined
  }

  /**
   * A subscribe replaced before it was answered (another subscribe or an unsubscribe of the topic
   * came meanwhile) is still answered: as the topic stands now, or with the subscribe that won.
   */
  private superseded(conn: Connection, topic: string, ref: unknown) {
    if (ref === undefined || conn.closed) return
    const now = conn.topics.get(topic)
    if (!now) this.send(conn, unsubscribedFrame(topic, ref))
    else if (now.answered) this.send(conn, subscribedFrame(topic, now.answered.offset, now.answered.recovered, ref))
    else (now.waiting ??= []).push(ref)
  }

  /** What arrived while the state was replaying (or held), then live. */
  private goLive(conn: Connection, state: TopicState) {
    const buffered = state.buffer ?? []
    state.buffer = null
    for (const entry of buffered) this.sendEntry(conn, state, entry)
  }

  /**
   * The client did not subscribe to a held topic itself: what was published since the join is
   * read from the history (held entries may have missed a resync), then it goes live. Should the
   * history be unavailable, what was held is sent as it is.
   */
  private async release(conn: Connection, topic: string, state: TopicState) {
    if (!this.current(conn, topic, state) || !state.held) return
    state.held = false
    try {
      if (!await this.replay(conn, topic, state, state.lastOffset, undefined, false)) return
    }
    catch (error) {
      console.warn(`mercury: history of ${topic} unavailable to a joined subscription:`, (error as Error).message)
    }
    if (this.current(conn, topic, state)) this.goLive(conn, state)
  }

  /**
   * Sends the retained messages after `since`, page by page; first the `subscribed` frame (or,
   * when `announce` is false, only if messages are gone). False when the state was replaced.
   */
  private async replay(conn: Connection, topic: string, state: TopicState, since: number, ref: unknown, announce = true): Promise<boolean> {
    let first = true
    let cursor = since
    for (;;) {
      const page = await this.layer.history(topic, cursor, this.options.replayPage)
      if (!this.current(conn, topic, state)) return false
      if (first) {
        if (announce || !page.recovered) this.answer(conn, topic, state, page.lastOffset, page.recovered, ref)
        // A `since` past the newest offset is from before the stream restarted (Redis lost its
        // data, say): recovered:false, and every message from now on is new to this client.
        state.lastOffset = state.from = Math.min(since, page.lastOffset)
        first = false
      }
      for (const entry of page.entries) {
        if (state.skip && entry.offset > state.skip.after && entry.offset <= state.skip.upTo) state.lastOffset = entry.offset
        else this.sendEntry(conn, state, entry)
      }
      if (page.entries.length < this.options.replayPage) return true
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
    if (state && (state.buffer === null || state.held)) this.send(conn, subscribedFrame(topic, state.lastOffset, true))
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

  connectedSources(): string[] {
    return [...this.sources.keys()]
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
