// The Redis channel layer: lets several Mercury instances share topic streams.
// - Each topic has a counter `{prefix}offset:{topic}` (its last offset, never expires) and a
//   stream `{prefix}stream:{topic}` whose entry ids are `0-<offset>`, so ids map to offsets.
// - A publish is one Lua script (one round trip): INCR, XADD, PUBLISH on `{prefix}topic:{topic}`.
//   The pub/sub message is `<offset>\n<frame>`; the frame is concatenated in Lua, so the caller
//   serializes the message once and nothing parses it again.
// - Control events travel as JSON on `{prefix}control`, to which every instance is subscribed.
// It must stay free of Nitro auto-imports so tests can load it directly.
import Redis, { type RedisOptions } from 'ioredis'
import { LayerUnavailableError, isRecovered, type ChannelLayer, type ControlEvent, type ControlListener, type EntryListener, type HistoryLimits, type HistoryResult, type StreamEntry } from './layer'

export interface RedisLayerOptions {
  /** Prefix of every key and channel, so that several deployments can share one Redis. */
  prefix?: string
}

// KEYS: offset counter, stream. ARGV: head, tail, maxLength, channel, stream ttl (ms).
// TIME before a write is fine: scripts are replicated by effects (the default since Redis 5).
// `%d` formats the offset like JavaScript does (Lua's own number formatting switches to
// exponents past 14 digits), so the returned frame equals the one published.
const PUBLISH_SCRIPT = `
local offset = string.format('%d', redis.call('INCR', KEYS[1]))
local time = redis.call('TIME')
local now = string.format('%d', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
local frame = ARGV[1] .. offset .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '0-' .. offset, 'f', frame, 't', now)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[4], offset .. '\\n' .. frame)
return tonumber(offset)
`

// KEYS: offset counter, stream. ARGV: since, limit, maxLength, maxAgeMs.
// Returns { lastOffset, offset1, frame1, offset2, frame2, ... }.
// Done in Lua rather than a pipelined XRANGE + GET so that the history holds exactly what the
// memory layer's does: MAXLEN ~ keeps up to a stream node more than maxLength, so offsets at or
// below lastOffset - maxLength are skipped (this needs lastOffset before the XRANGE); and expired
// entries are dropped before `limit` is applied, so a page is only short at the end of the stream.
// Ages are measured with Redis's clock, the one that stamped the entries.
const HISTORY_SCRIPT = `
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local floor = last - tonumber(ARGV[3])
if floor < since then floor = since end
local time = redis.call('TIME')
local oldest = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) - tonumber(ARGV[4])
local result = { last }
local wanted = limit
local from = '-'
if floor > 0 then from = '(0-' .. string.format('%d', floor) end
while wanted > 0 do
  local entries = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', wanted)
  local asked = wanted
  for i = 1, #entries do
    local fields = entries[i][2]
    if tonumber(fields[4]) >= oldest then
      result[#result + 1] = tonumber(string.sub(entries[i][1], 3))
      result[#result + 1] = fields[2]
      wanted = wanted - 1
    end
  end
  if #entries < asked then break end
  from = '(' .. entries[#entries][1]
end
return result
`

interface LayerScripts {
  mercuryPublish(offsetKey: string, streamKey: string, head: string, tail: string, maxLength: string, channel: string, ttlMs: string): Promise<number>
  mercuryHistory(offsetKey: string, streamKey: string, since: string, limit: string, maxLength: string, maxAgeMs: string): Promise<(number | string)[]>
}

const connectionOptions: RedisOptions = {
  // Reconnect quickly after a restart: 100 ms, 200 ms, ... then every second.
  retryStrategy: times => Math.min(times * 100, 1000),
  // Commands caught in flight by a disconnect (or queued before the first connection) fail after
  // three reconnection attempts instead of waiting for Redis forever. Should the reconnection come
  // first, ioredis sends them again (autoResendUnfulfilledCommands): a publish whose reply was lost
  // may then be stored twice. Turning that off is worse: ioredis drops those commands without ever
  // settling their promises.
  maxRetriesPerRequest: 2,
}

/** A Redis command that failed (Redis away, or the connection lost) means: retry shortly. */
function unavailableIfFailed<T>(command: Promise<T>): Promise<T> {
  return command.catch((error: Error) => {
    // No `cause`: h3 would wrap that instead of this error, and the 503 would be lost.
    throw new LayerUnavailableError(`the channel layer is unavailable: ${error.message}`)
  })
}

function untilReady(connection: Redis): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve()
  return new Promise(resolve => connection.once('ready', () => resolve()))
}

export class RedisChannelLayer implements ChannelLayer {
  readonly kind = 'redis' as const
  private readonly redis: Redis
  private readonly scripts: LayerScripts
  /** The command connection, for other shared state kept in Redis (the login limiter). */
  get commands(): Redis {
    return this.redis
  }

  /** Dedicated to pub/sub: a subscribed connection can run no other command. */
  private readonly sub: Redis
  private readonly prefix: string
  private readonly topicChannelPrefix: string
  private readonly controlChannel: string
  /** Script arguments that never change, as strings once and for all. */
  private readonly maxLength: string
  private readonly maxAgeMs: string
  private readonly streamTtlMs: string
  /** Topics this instance subscribed to: messages of any other topic are ignored. */
  private readonly topics = new Set<string>()
  private readonly entryListeners: EntryListener[] = []
  private readonly controlListeners: ControlListener[] = []
  private readonly resyncListeners: (() => void)[] = []
  private readonly controlSubscribed: Promise<void>
  private closing = false

  constructor(url: string, limits: HistoryLimits, options: RedisLayerOptions = {}) {
    this.prefix = options.prefix ?? 'mercury:'
    this.topicChannelPrefix = `${this.prefix}topic:`
    this.controlChannel = `${this.prefix}control`
    this.maxLength = String(limits.maxLength)
    this.maxAgeMs = String(limits.maxAgeMs)
    // The whole stream expires once its newest entry would have: abandoned topics cost nothing.
    // The offset counter stays, so that offsets keep increasing.
    this.streamTtlMs = String(limits.maxAgeMs + 1000)

    // A bounded wait in case Redis hangs without closing the connection (a network partition).
    this.redis = new Redis(url, { ...connectionOptions, commandTimeout: 5000, connectionName: 'mercury-commands' })
    this.redis.defineCommand('mercuryPublish', { numberOfKeys: 2, lua: PUBLISH_SCRIPT })
    this.redis.defineCommand('mercuryHistory', { numberOfKeys: 2, lua: HISTORY_SCRIPT })
    this.scripts = this.redis as unknown as LayerScripts
    // Commands are queued while the first connection is being made, so that a publish right after
    // boot does not fail. From then on they fail fast: during an outage a publish rejects at once
    // (the hub answers with an error) instead of piling up in memory until Redis is back.
    this.redis.once('ready', () => {
      this.redis.options.enableOfflineQueue = false
    })
    this.redis.on('ready', () => this.sendUnsent())
    this.watch(this.redis, 'command')

    // The subscriber keeps its offline queue: a subscribe during a short outage takes effect on
    // reconnection (or fails after maxRetriesPerRequest). On reconnection ioredis subscribes
    // again to every channel it had (autoResubscribe, on by default).
    this.sub = new Redis(url, { ...connectionOptions, connectionName: 'mercury-subscriber' })
    this.watch(this.sub, 'subscriber')
    this.sub.on('message', (channel: string, message: string) => this.receive(channel, message))
    let controlSubscribed!: () => void
    this.controlSubscribed = new Promise(resolve => controlSubscribed = resolve)
    // Subscribed on every connection rather than once: autoResubscribe only restores channels whose
    // subscription succeeded, and the first one fails if Redis is down at boot. Again is harmless.
    let connectedBefore = false
    this.sub.on('ready', () => {
      this.sub.subscribe(this.controlChannel).then(() => controlSubscribed(), () => {})
      // What was published while the subscriber was away never reached this instance.
      // Listeners read history, so they run once the command connection is back too.
      if (connectedBefore) {
        void untilReady(this.redis).then(() => {
          for (const listener of this.resyncListeners) listener()
        })
      }
      connectedBefore = true
    })
  }

  /**
   * Logs each outage once (not every reconnection attempt) and its end. The 'error' listener also
   * keeps ioredis's 'error' events from being unhandled. A server that goes away cleanly closes the
   * connection without an error, hence 'close' too.
   */
  private watch(connection: Redis, name: string) {
    let down = false
    const lost = (reason: string) => {
      if (down || this.closing) return
      down = true
      console.warn(`[mercury] Redis ${name} connection ${reason}; reconnecting`)
    }
    connection.on('error', (error: Error) => lost(`failed: ${error.message}`))
    connection.on('close', () => lost('closed'))
    connection.on('ready', () => {
      if (down) console.warn(`[mercury] Redis ${name} connection is back`)
      down = false
    })
  }

  private receive(channel: string, message: string) {
    if (channel.startsWith(this.topicChannelPrefix)) {
      const topic = channel.slice(this.topicChannelPrefix.length)
      // A channel left subscribed by a failed unsubscribe (during an outage) must stay silent.
      if (!this.topics.has(topic)) return
      const newline = message.indexOf('\n')
      if (newline < 0) return
      const entry: StreamEntry = { offset: Number(message.slice(0, newline)), frame: message.slice(newline + 1) }
      for (const listener of this.entryListeners) {
        // A throwing listener must not unwind into ioredis's reply parser.
        try {
          listener(topic, entry)
        }
        catch (error) {
          console.error('[mercury] entry listener failed', error)
        }
      }
    }
    else if (channel === this.controlChannel) {
      let event: ControlEvent
      try {
        event = JSON.parse(message)
      }
      catch {
        return
      }
      if (!event || typeof event !== 'object' || typeof event.type !== 'string') return
      this.deliverControl(event)
    }
  }

  private deliverControl(event: ControlEvent) {
    for (const listener of this.controlListeners) {
      try {
        listener(event)
      }
      catch (error) {
        console.error('[mercury] control listener failed', error)
      }
    }
  }

  /**
   * Resolves once the command connection is up and control events are being received.
   * Not needed before use (commands wait for the first connection); for boot and tests.
   */
  async ready(): Promise<void> {
    await Promise.all([untilReady(this.redis), untilReady(this.sub), this.controlSubscribed])
  }

  async publish(topic: string, head: string, tail: string): Promise<StreamEntry> {
    const offset = await this.scripts.mercuryPublish(
      `${this.prefix}offset:${topic}`,
      `${this.prefix}stream:${topic}`,
      head,
      tail,
      this.maxLength,
      this.topicChannelPrefix + topic,
      this.streamTtlMs,
    )
    return { offset, frame: head + offset + tail }
  }

  async history(topic: string, since: number, limit: number): Promise<HistoryResult> {
    const reply = await unavailableIfFailed(this.scripts.mercuryHistory(
      `${this.prefix}offset:${topic}`,
      `${this.prefix}stream:${topic}`,
      String(Math.max(0, Math.floor(since))),
      String(Math.max(0, Math.floor(limit))),
      this.maxLength,
      this.maxAgeMs,
    ))
    const lastOffset = reply[0] as number
    const entries: StreamEntry[] = []
    for (let i = 1; i < reply.length; i += 2) {
      entries.push({ offset: reply[i] as number, frame: reply[i + 1] as string })
    }
    return { entries, lastOffset, recovered: isRecovered(since, entries, lastOffset) }
  }

  async lastOffset(topic: string): Promise<number> {
    const value = await unavailableIfFailed(this.redis.get(`${this.prefix}offset:${topic}`))
    return value === null ? 0 : Number(value)
  }

  async subscribe(topic: string): Promise<void> {
    // SUBSCRIBE to a channel already subscribed is a no-op in Redis, so repeating it is harmless.
    this.topics.add(topic)
    try {
      await this.sub.subscribe(this.topicChannelPrefix + topic)
    }
    catch (error) {
      this.topics.delete(topic)
      throw error
    }
  }

  async unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic)
    await this.sub.unsubscribe(this.topicChannelPrefix + topic)
  }

  onEntry(listener: EntryListener): void {
    this.entryListeners.push(listener)
  }

  async broadcast(event: ControlEvent): Promise<void> {
    // Through Redis even for this instance, so every instance sees events in the same order.
    try {
      await this.redis.publish(this.controlChannel, JSON.stringify(event))
    }
    catch (error) {
      // Redis away: this instance applies it at once, and it is sent to the others once Redis is
      // back (they also check their connections against the database when they reconnect).
      // (At most the last thousand: the others' reconnection check covers what is dropped.)
      if (this.unsent.push(event) > 1000) this.unsent.shift()
      this.deliverControl(event)
      throw error
    }
  }

  /** Events that could not be broadcast, sent when the command connection is back. */
  private readonly unsent: ControlEvent[] = []

  private sendUnsent() {
    const events = this.unsent.splice(0)
    for (const event of events) {
      this.redis.publish(this.controlChannel, JSON.stringify(event)).catch(() => this.unsent.push(event))
    }
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener)
  }

  onControl(listener: ControlListener): void {
    this.controlListeners.push(listener)
  }

  healthy(): boolean {
    return this.redis.status === 'ready'
  }

  async close(): Promise<void> {
    this.closing = true
    this.entryListeners.length = 0
    this.controlListeners.length = 0
    // QUIT fails when Redis is unreachable: then just drop the connection (and stop reconnecting).
    await Promise.all([this.redis, this.sub].map(connection => connection.quit().catch(() => connection.disconnect())))
  }
}
