import type { NotificationInput, PublishInput } from '#shared/schemas/messages'
import { TOPIC_RE, topicMatchesAny } from '#shared/utils/topics'
import { mercuryConfig } from '../utils/config'
import { useDb } from '../utils/db'
import { timeOrderedId } from '../utils/ids'
import { TokenBuckets } from '../utils/token-bucket'
import { isDatabaseUnavailable } from '../utils/unavailable'
import { warnAtMostEveryMinute } from '../utils/warn'
import type { StreamEntry } from './realtime/layer'
import { useChannelLayer } from './realtime'
import { countPublish, type SourceInfo } from './sources'
import { discardNotification, notificationPublished, storeNotification } from './notifications'

/** Who publishes: a source (producer token) or a user whose grants allow publishing. */
export type Publisher
  = | { kind: 'source', source: SourceInfo }
    | { kind: 'user', userId: string, patterns: string[] }

export interface Published {
  id: string
  topic: string
  offset: number
  createdAt: string
}

type PublishedListener = (published: Published & { sourceId: string | null, event: string, data: unknown }) => void
const publishedListeners: PublishedListener[] = []

/** Lets live views (admin metrics) see every message published through this instance. */
export function onPublished(listener: PublishedListener): void {
  publishedListeners.push(listener)
}

let buckets: TokenBuckets | undefined

/** The publish rate of a source, or of a user publishing through a grant: the same limit for both. */
function takePublish(publisher: Publisher): boolean {
  buckets ??= new TokenBuckets(mercuryConfig().sourceRateLimit)
  return buckets.take(publisher.kind === 'source' ? publisher.source.id : `user:${publisher.userId}`)
}

/** A refusal the routes turn into an HTTP status or an error frame. */
export class PublishError extends Error {
  constructor(readonly code: 'bad_request' | 'forbidden' | 'unauthorized' | 'unavailable' | 'rate_limited' | 'payload_too_large', message: string) {
    super(message)
  }
}

export function publisherMay(publisher: Publisher, topic: string): boolean {
  if (publisher.kind === 'source') return publisher.source.status === 'active' && topicMatchesAny(publisher.source.patterns, topic)
  return topicMatchesAny(publisher.patterns, topic)
}

/**
 * The ingest path of DESIGN.md: check, append to the topic stream (which fans out to every
 * instance), then — only for messages that carry a notification — persist it with the inbox rows.
 */
export async function publishMessage(publisher: Publisher, topic: string, input: PublishInput): Promise<Published> {
  if (!TOPIC_RE.test(topic)) throw new PublishError('bad_request', 'topic must be 1-128 letters, digits or _ . - (not dots alone)')
  if (publisher.kind === 'source' && publisher.source.status !== 'active') {
    throw new PublishError('forbidden', `source "${publisher.source.name}" is ${publisher.source.status}`)
  }
  if (!publisherMay(publisher, topic)) throw new PublishError('forbidden', `not allowed to publish to "${topic}"`)
  if (!takePublish(publisher)) {
    const who = publisher.kind === 'source' ? `source "${publisher.source.name}"` : 'this user'
    throw new PublishError('rate_limited', `${who} publishes more than ${mercuryConfig().sourceRateLimit} messages per second`)
  }
  const layer = useChannelLayer()
  if (!layer.healthy()) throw new PublishError('unavailable', 'the channel layer is unavailable; retry shortly')

  // Ordered by time, and within a millisecond by publish (UUIDv7 with a counter): notifications
  // of one instant list in the order they were published, on the server and in the app alike.
  const id = timeOrderedId()
  const createdAt = new Date().toISOString()
  const sourceId = publisher.kind === 'source' ? publisher.source.id : null
  const stored = input.notification
    ? { id, topic, offset: 0, event: input.event, data: input.data, notification: input.notification, sourceId, createdAt }
    : null
  const { head, tail } = messageFrameParts(topic, id, input.event, input.data, input.notification, createdAt)
  // The message as it is delivered and kept: numbers are written out in full (1e20 takes 21 bytes),
  // so a body within the limit could make a message several times larger.
  const limit = mercuryConfig().maxPayloadBytes + FRAME_ENVELOPE_BYTES
  if ((head.length + tail.length) * 3 > limit && Buffer.byteLength(head) + Buffer.byteLength(tail) > limit) {
    throw new PublishError('payload_too_large', `the message is larger than ${mercuryConfig().maxPayloadBytes} bytes once serialized, with the ${FRAME_ENVELOPE_BYTES} bytes allowed for what Mercury adds (numbers are written out in full)`)
  }
  // Offsets follow the order of the calls, per topic: a notification is stored before it takes its
  // offset, and a message called after it must not overtake it meanwhile (a producer's "raised"
  // then "cleared" would reach every subscriber as "cleared", "raised"). A message with nothing
  // before it in line goes straight on.
  const turn = stored || turns.has(topic) ? takeTurn(topic) : undefined
  let readers: string[] = []
  let entry: Promise<StreamEntry>
  try {
    if (stored) readers = await storeNotification(stored).catch(error => refusedIfSourceGone(error, sourceId))
    if (turn?.previous) await turn.previous
    // A layer gives offsets in the order it is called: once this one has called, the next may.
    entry = layer.publish(topic, head, tail)
  }
  finally {
    turn?.done()
  }
  let offset: number
  try {
    offset = (await entry).offset
  }
  catch (error) {
    if (stored) await discardNotification(id)
    // The embedded layer reserves a topic's offsets in the database (first publish since start).
    // An outage refuses every publish to a new topic: it is logged once a minute, not once each.
    if (isDatabaseUnavailable(error)) {
      warnAtMostEveryMinute('publish refused, the database is unavailable', (error as Error).message)
      throw new PublishError('unavailable', 'the database is unavailable; retry shortly')
    }
    console.warn(`mercury: publish to ${topic} failed:`, (error as Error).message)
    throw new PublishError('unavailable', 'the channel layer is unavailable; retry shortly')
  }
  countPublish(sourceId, topic, Boolean(input.notification))
  if (stored) {
    try {
      await notificationPublished({ ...stored, offset }, readers)
    }
    catch (error) {
      // It is out and in the inboxes; only its offset and the push are late: the sweep pushes it.
      console.warn(`mercury: notification ${id} published, but not queued for push:`, (error as Error).message)
    }
  }
  const published = { id, topic, offset, createdAt }
  for (const listener of publishedListeners) listener({ ...published, sourceId, event: input.event, data: input.data })
  return published
}

/** Per topic, the last publish in line for its offset: resolved once it has asked for it (or failed). */
const turns = new Map<string, Promise<void>>()

function takeTurn(topic: string): { previous: Promise<void> | undefined, done: () => void } {
  const previous = turns.get(topic)
  let resolve!: () => void
  const mine = new Promise<void>(r => resolve = r)
  turns.set(topic, mine)
  const finish = () => {
    if (turns.get(topic) === mine) turns.delete(topic)
    resolve()
  }
  // Never before the previous one, even when this one failed early: the line stays in order.
  return { previous, done: () => previous ? void previous.then(finish) : finish() }
}

/**
 * A notification whose source was deleted after this publish was let in fails the foreign key:
 * that is the source's refusal (its producers are being closed with 4001), not a server fault.
 */
async function refusedIfSourceGone(error: unknown, sourceId: string | null): Promise<never> {
  if (sourceId && /foreign key/i.test((error as Error).message ?? '')) {
    const source = await useDb().source.findUnique({ where: { id: sourceId }, select: { id: true } }).catch(() => undefined)
    if (source === null) throw new PublishError('unauthorized', 'the source was deleted')
  }
  throw error
}

/** What a delivered message adds to what was published: its type, topic, offset, id, createdAt. */
const FRAME_ENVELOPE_BYTES = 1024

/** The `message` frame split around its offset, serialized once for every subscriber. */
export function messageFrameParts(topic: string, id: string, event: string, data: unknown, notification: NotificationInput | undefined, createdAt: string) {
  const head = `{"type":"message","topic":${JSON.stringify(topic)},"offset":`
  const tail = `,"id":"${id}","event":${JSON.stringify(event)},"data":${JSON.stringify(data ?? null)}`
    + (notification ? `,"notification":${JSON.stringify(notification)}` : '')
    + `,"createdAt":"${createdAt}"}`
  return { head, tail }
}
