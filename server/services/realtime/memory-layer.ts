import { EventEmitter } from 'node:events'
import TinyQueue from 'tinyqueue'
import { isRecovered, type ChannelLayer, type ControlEvent, type ControlListener, type EntryListener, type HistoryLimits, type HistoryResult, type StreamEntry } from './layer'

/**
 * Where the embedded layer keeps the ceiling of each topic's offsets, so that offsets keep
 * increasing across restarts. Offsets are reserved in blocks: one write per `block` messages.
 */
export interface OffsetStore {
  /** The highest offset ever reserved for the topic (0 for a new topic). */
  ceiling(topic: string): Promise<number>
  /** Records that offsets up to `ceiling` may be used. */
  reserve(topic: string, ceiling: number): Promise<void>
}

/** How often expired entries and forgotten topics are dropped. */
const SWEEP_EVERY_MS = 60_000

interface TimedEntry extends StreamEntry {
  at: number
  /** Order of publishing over all topics (several share a millisecond). */
  seq: number
}

interface TopicStream {
  next: number
  ceiling: number
  /** Ring buffer of the newest entries; `start` is the index of the oldest. */
  ring: (TimedEntry | undefined)[]
  start: number
  size: number
  /** Set while a block of offsets is being reserved: publishes wait for it, in order. */
  pending?: Promise<void>
}

export class MemoryChannelLayer implements ChannelLayer {
  readonly kind = 'memory' as const
  private readonly streams = new Map<string, TopicStream>()
  private readonly loading = new Map<string, Promise<TopicStream>>()
  private readonly subscribed = new Set<string>()
  private readonly events = new EventEmitter()
  /** Characters of the frames held by all topics. */
  private chars = 0
  private published = 0

  constructor(
    private readonly limits: HistoryLimits,
    private readonly offsets: OffsetStore,
    private readonly block = 1000,
  ) {
    this.events.setMaxListeners(0)
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS)
    this.sweeper.unref()
  }

  private readonly sweeper: ReturnType<typeof setInterval>

  private stream(topic: string): Promise<TopicStream> {
    const existing = this.streams.get(topic)
    if (existing) return Promise.resolve(existing)
    let loading = this.loading.get(topic)
    if (!loading) {
      loading = this.offsets.ceiling(topic).then((ceiling) => {
        const stream: TopicStream = { next: ceiling + 1, ceiling, ring: new Array(Math.min(this.limits.maxLength, 16)), start: 0, size: 0 }
        this.streams.set(topic, stream)
        this.loading.delete(topic)
        return stream
      }, (error: unknown) => {
        this.loading.delete(topic)
        throw error
      })
      this.loading.set(topic, loading)
    }
    return loading
  }

  async publish(topic: string, head: string, tail: string): Promise<StreamEntry> {
    const stream = this.streams.get(topic) ?? await this.stream(topic)
    while (stream.pending) await stream.pending
    if (stream.next > stream.ceiling) {
      const ceiling = stream.next - 1 + this.block
      stream.pending = this.offsets.reserve(topic, ceiling).then(() => {
        stream.ceiling = ceiling
      }).finally(() => {
        stream.pending = undefined
      })
      await stream.pending
    }
    const offset = stream.next++
    const entry: TimedEntry = { offset, frame: head + offset + tail, at: Date.now(), seq: ++this.published }
    this.append(stream, entry)
    if (this.limits.maxBytes && this.chars > this.limits.maxBytes) this.trim(this.limits.maxBytes)
    if (this.subscribed.has(topic)) this.events.emit('entry', topic, entry)
    return entry
  }

  private append(stream: TopicStream, entry: TimedEntry) {
    const max = this.limits.maxLength
    if (stream.size === stream.ring.length && stream.ring.length < max) {
      // Grow the ring (keeping order) until it reaches the history limit.
      const grown = new Array<TimedEntry | undefined>(Math.min(max, stream.ring.length * 2))
      for (let i = 0; i < stream.size; i++) grown[i] = stream.ring[(stream.start + i) % stream.ring.length]
      stream.ring = grown
      stream.start = 0
    }
    const capacity = stream.ring.length
    if (stream.size === capacity) this.dropOldest(stream)
    stream.ring[(stream.start + stream.size) % capacity] = entry
    stream.size++
    this.chars += entry.frame.length
  }

  private dropOldest(stream: TopicStream) {
    const entry = stream.ring[stream.start]!
    stream.ring[stream.start] = undefined
    stream.start = (stream.start + 1) % stream.ring.length
    stream.size--
    this.chars -= entry.frame.length
  }

  private dropExpired(stream: TopicStream) {
    const oldest = Date.now() - this.limits.maxAgeMs
    while (stream.size > 0 && stream.ring[stream.start]!.at < oldest) this.dropOldest(stream)
  }

  /**
   * Drops the oldest messages of all topics, oldest first, until the history holds at most 90 % of
   * `maxChars`: many busy topics (or large payloads on many topics) must not take the process's
   * whole memory. Below the bound by a tenth, it runs again only after that much more.
   */
  private trim(maxChars: number) {
    const target = Math.floor(maxChars * 0.9)
    const oldest = (stream: TopicStream) => stream.ring[stream.start]!.seq
    const heap = new TinyQueue([...this.streams.values()].filter(stream => stream.size > 0), (a, b) => oldest(a) - oldest(b))
    while (this.chars > target && heap.length > 0) {
      const stream = heap.pop()!
      this.dropOldest(stream)
      if (stream.size > 0) heap.push(stream)
    }
  }

  /**
   * The stream of a topic that was published to (here, or before a restart), or null: asking
   * about topics that never were (any name a reader's pattern allows) must cost no memory.
   */
  private async known(topic: string): Promise<TopicStream | null> {
    const stream = this.streams.get(topic)
    if (stream) return stream
    if (!this.loading.has(topic) && await this.offsets.ceiling(topic) === 0) return null
    return this.stream(topic)
  }

  async history(topic: string, since: number, limit: number): Promise<HistoryResult> {
    const stream = await this.known(topic)
    if (!stream) return { entries: [], lastOffset: 0, recovered: isRecovered(since, [], 0) }
    this.dropExpired(stream)
    const lastOffset = stream.next - 1
    const entries: StreamEntry[] = []
    if (stream.size > 0) {
      const first = stream.ring[stream.start]!.offset
      // Offsets in the ring are consecutive, so the wanted one is found by arithmetic.
      let index = Math.max(0, since + 1 - first)
      for (; index < stream.size && entries.length < limit; index++) {
        const { offset, frame } = stream.ring[(stream.start + index) % stream.ring.length]!
        entries.push({ offset, frame })
      }
    }
    return { entries, lastOffset, recovered: isRecovered(since, entries, lastOffset) }
  }

  async lastOffset(topic: string): Promise<number> {
    const stream = await this.known(topic)
    return stream ? stream.next - 1 : 0
  }

  /**
   * Drops what has expired from every topic, and forgets the topics left with nothing to keep (no
   * entry, no local subscriber): without it, a topic published to once (or read) held its ring
   * for as long as the process ran, and entries older than the history's age stayed until a read.
   * A topic forgotten takes its offsets up again from its reserved ceiling, as after a restart.
   */
  sweep(): void {
    for (const [topic, stream] of this.streams) {
      this.dropExpired(stream)
      if (stream.size === 0 && !stream.pending && !this.subscribed.has(topic)) this.streams.delete(topic)
    }
  }

  /** Topics held in memory (for tests and metrics). */
  get heldTopics(): number {
    return this.streams.size
  }

  /** Characters of the frames held in the history of all topics (for tests and metrics). */
  get heldChars(): number {
    return this.chars
  }

  async subscribe(topic: string): Promise<void> {
    this.subscribed.add(topic)
  }

  async unsubscribe(topic: string): Promise<void> {
    this.subscribed.delete(topic)
  }

  onEntry(listener: EntryListener): void {
    this.events.on('entry', listener)
  }

  onResync(_listener: () => void): void {
    // In one process nothing is ever missed.
  }

  async broadcast(event: ControlEvent): Promise<void> {
    this.events.emit('control', event)
  }

  onControl(listener: ControlListener): void {
    this.events.on('control', listener)
  }

  healthy(): boolean {
    return true
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper)
    this.events.removeAllListeners()
  }
}
