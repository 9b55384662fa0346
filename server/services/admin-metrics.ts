import { timingSafeEqual } from 'node:crypto'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { ChannelConnection } from './realtime/channel'
import { useHub } from './realtime'
import { mercuryConfig } from '../utils/config'

// Figures of this instance only: each process counts what was published through it and pushes
// them to its own admin connections. Several instances mean several sets of figures.

const WINDOW_SECONDS = 60

/** Messages per second over the last minute, as a ring of one-second buckets. */
class MinuteCounter {
  private readonly buckets = new Array<number>(WINDOW_SECONDS).fill(0)
  private second = currentSecond()
  total = 0

  add(n = 1) {
    this.advance()
    this.buckets[this.second % WINDOW_SECONDS]! += n
    this.total += n
  }

  /** Messages in the last minute. */
  perMinute(): number {
    this.advance()
    return this.buckets.reduce((a, b) => a + b, 0)
  }

  /** Messages per second, averaged over the last `seconds` complete seconds. */
  rate(seconds = 5): number {
    this.advance()
    let sum = 0
    for (let i = 1; i <= seconds; i++) sum += this.buckets[(this.second - i + WINDOW_SECONDS * 2) % WINDOW_SECONDS]!
    return Math.round((sum / seconds) * 100) / 100
  }

  private advance() {
    const now = currentSecond()
    const steps = Math.min(now - this.second, WINDOW_SECONDS)
    for (let i = 1; i <= steps; i++) this.buckets[(this.second + i) % WINDOW_SECONDS] = 0
    this.second = now
  }
}

function currentSecond() {
  return Math.floor(Date.now() / 1000)
}

const overall = new MinuteCounter()
const bySource = new Map<string, MinuteCounter>()
const byTopic = new Map<string, MinuteCounter>()
/** Keys are dropped once idle this long, so a flood of one-off topics cannot grow the maps forever. */
const IDLE_MS = 10 * 60_000
const lastSeen = new Map<MinuteCounter, number>()

function bump(map: Map<string, MinuteCounter>, key: string) {
  let counter = map.get(key)
  if (!counter) {
    counter = new MinuteCounter()
    map.set(key, counter)
  }
  counter.add()
  lastSeen.set(counter, Date.now())
}

export function recordPublished(message: { topic: string, sourceId: string | null }): void {
  overall.add()
  bump(byTopic, message.topic)
  if (message.sourceId) bump(bySource, message.sourceId)
  prometheus().published.inc({ origin: message.sourceId ? 'source' : 'user' })
}

/** Keys idle for IDLE_MS go: run every second, admins connected or not. */
function prune(map: Map<string, MinuteCounter>) {
  const now = Date.now()
  for (const [key, counter] of map) {
    if (now - (lastSeen.get(counter) ?? 0) > IDLE_MS) {
      map.delete(key)
      lastSeen.delete(counter)
    }
  }
}

/**
 * The figures of the busiest keys (by messages in the last minute): a frame sent every second
 * cannot name every one of a flood of one-off topics (10,000 made it half a megabyte).
 */
const MAX_KEYS = 200

function figures(map: Map<string, MinuteCounter>) {
  const rows = [...map].map(([key, counter]) => [key, { perMinute: counter.perMinute(), rate: counter.rate(), total: counter.total }] as const)
  if (rows.length > MAX_KEYS) rows.sort((a, b) => b[1].perMinute - a[1].perMinute || b[1].total - a[1].total).length = MAX_KEYS
  return Object.fromEntries(rows)
}

/** The frame pushed to admin views every second. */
export function metricsFrame() {
  const hub = useHub().stats()
  return {
    type: 'admin' as const,
    entity: 'metrics' as const,
    scope: 'instance' as const,
    pid: process.pid,
    at: new Date().toISOString(),
    connections: { channel: hub.channelConnections, datalink: hub.datalinkConnections, users: hub.users },
    producersOnline: hub.sources,
    topicsLive: hub.topics,
    messages: { perMinute: overall.perMinute(), rate: overall.rate(), total: overall.total },
    perSource: figures(bySource),
    perTopic: figures(byTopic),
  }
}

/** The admin connections of this instance. */
export function localAdminConnections(): ChannelConnection[] {
  const hub = useHub()
  const out: ChannelConnection[] = []
  for (const userId of hub.connectedUsers()) {
    for (const conn of hub.userConnections(userId) as ChannelConnection[]) {
      if (conn.permissions?.admin) out.push(conn)
    }
  }
  return out
}

export function pushMetrics(): void {
  prune(byTopic)
  prune(bySource)
  const admins = localAdminConnections()
  if (admins.length === 0) return
  const frame = JSON.stringify(metricsFrame())
  const hub = useHub()
  for (const conn of admins) hub.send(conn, frame)
}

// Prometheus: a registry of our own, so nothing registered globally by a library leaks in.
let registry: { registry: Registry, published: Counter<'origin'> } | undefined

function prometheus() {
  if (registry) return registry
  const reg = new Registry()
  // The event-loop delay histogram samples every 100 ms, not prom-client's default 10 ms: its
  // timer would otherwise wake the process 100 times a second, idle or not (about 1 % of a core
  // here). A stall still shows: it delays the next sample.
  collectDefaultMetrics({ register: reg, prefix: 'mercury_', eventLoopMonitoringPrecision: 100 })
  const stats = () => useHub().stats()
  new Gauge({
    name: 'mercury_connections',
    help: 'Open WebSocket connections on this instance',
    labelNames: ['kind'] as const,
    registers: [reg],
    collect() {
      const s = stats()
      this.set({ kind: 'channel' }, s.channelConnections)
      this.set({ kind: 'datalink' }, s.datalinkConnections)
    },
  })
  new Gauge({
    name: 'mercury_topics', help: 'Topics followed by at least one connection on this instance', registers: [reg],
    collect() {
      this.set(stats().topics)
    },
  })
  new Gauge({
    name: 'mercury_connected_users', help: 'Users with an open /channel connection on this instance', registers: [reg],
    collect() {
      this.set(stats().users)
    },
  })
  new Gauge({
    name: 'mercury_producers_online', help: 'Sources with an open /datalink connection on this instance', registers: [reg],
    collect() {
      this.set(stats().sources)
    },
  })
  new Gauge({
    name: 'mercury_messages_last_minute', help: 'Messages published through this instance in the last minute', registers: [reg],
    collect() {
      this.set(overall.perMinute())
    },
  })
  const published = new Counter({
    name: 'mercury_messages_published_total',
    help: 'Messages published through this instance, by who published them (a source or a user)',
    labelNames: ['origin'] as const,
    registers: [reg],
  })
  registry = { registry: reg, published }
  return registry
}

export function prometheusRegistry(): Registry {
  return prometheus().registry
}

/** MERCURY_METRICS_TOKEN, or null when /metrics is off. */
export function metricsToken(): string | null {
  return mercuryConfig().metricsToken
}

export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
