// The channel layer: per-topic streams (offsets + bounded history) and fan-out between instances.
// Two implementations behind this one interface: memory (one process) and redis (many).
// It must stay free of Nitro auto-imports so tests can load it directly.

/** One message of a topic stream: its offset and its `message` frame, serialized once. */
export interface StreamEntry {
  offset: number
  frame: string
}

export interface HistoryResult {
  /** Entries with offset > since, oldest first, at most `limit`. */
  entries: StreamEntry[]
  /** The topic's newest offset (0 when nothing was ever published). */
  lastOffset: number
  /** False when some message after `since` is no longer in the history. */
  recovered: boolean
}

export interface HistoryLimits {
  /** Messages kept per topic. */
  maxLength: number
  /** Age past which a message leaves the history, in ms. */
  maxAgeMs: number
  /**
   * The embedded layer's bound on all topics' history together, in characters of the frames
   * (bytes for ASCII text): past it, the oldest messages of any topic leave first. On Redis the
   * history lives in Redis, bounded by its own maxmemory.
   */
  maxBytes?: number
}

/** Events between instances: admin changes, subscription changes, read state. */
export interface ControlEvent {
  type: string
  [key: string]: unknown
}

export type EntryListener = (topic: string, entry: StreamEntry) => void
export type ControlListener = (event: ControlEvent) => void

export interface ChannelLayer {
  readonly kind: 'memory' | 'redis'
  /**
   * Appends a message to the topic and fans it out to every instance subscribed to the topic.
   * The frame is `head + offset + tail`: the offset is only known once the stream assigns it.
   */
  publish(topic: string, head: string, tail: string): Promise<StreamEntry>
  history(topic: string, since: number, limit: number): Promise<HistoryResult>
  lastOffset(topic: string): Promise<number>
  /** This instance starts receiving the topic's new entries; resolves once it is in effect. */
  subscribe(topic: string): Promise<void>
  unsubscribe(topic: string): Promise<void>
  onEntry(listener: EntryListener): void
  /**
   * Called after the layer lost and regained its fan-out connection: entries published meanwhile
   * were not delivered live, and (if the stream store lost its data) offsets may have restarted.
   */
  onResync(listener: () => void): void
  /** Delivers the event to every instance, this one included. */
  broadcast(event: ControlEvent): Promise<void>
  onControl(listener: ControlListener): void
  /** Whether the layer can take publishes now (Redis connected). */
  healthy(): boolean
  close(): Promise<void>
}

/** A read or write the layer could not make now (Redis away): the client is told to retry. */
export class LayerUnavailableError extends Error {
  override readonly name = 'LayerUnavailableError'
}

export function isLayerUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false
  if ((error as Error).name === 'LayerUnavailableError') return true
  return isLayerUnavailable((error as { cause?: unknown }).cause, depth + 1)
}

/** Computes `recovered` the same way for every layer. */
export function isRecovered(since: number, entries: StreamEntry[], lastOffset: number): boolean {
  if (since > lastOffset) return false // the client saw offsets this stream never had (a reset)
  if (entries.length === 0) return since === lastOffset
  return entries[0]!.offset === since + 1
}
