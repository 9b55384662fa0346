import type { Peer } from 'crossws'
import { datalinkFrameSchema, type DatalinkPublish } from '#shared/schemas/messages'
import { mercuryConfig } from '../../utils/config'
import { isDatabaseUnavailable } from '../../utils/unavailable'
import { publishMessage, PublishError } from '../ingest'
import { sourceById, type SourceInfo } from '../sources'
import { CLOSE, type Connection } from './hub'
import { TokenBucket } from '../../utils/token-bucket'
import { errorFrame, parseFrame, peekRef, pongFrame, type FrameText } from './frames'
import { useHub } from './index'
import { connectionFor } from './peer'

export interface DatalinkConnection extends Connection {
  sourceId: string
  tokenHash: string
  /** Publishes not answered yet. */
  answering: Set<Promise<void>>
  /** Why the socket is being closed (its source changed): frames from now on are refused. */
  ending?: string
}

/** Room in a frame for what a REST publish says in its URL: the frame's type, ref and topic. */
const FRAME_ALLOWANCE_BYTES = 1024

/** How long a producer's publishes under way may take to be answered before its socket is closed. */
const ANSWER_WAIT_MS = 5000

const connections = new WeakMap<Peer, DatalinkConnection>()

export function openDatalink(peer: Peer, sourceId: string, tokenHash: string): void {
  const rate = mercuryConfig().datalinkFrameRate
  const conn = connectionFor(peer, 'datalink', { sourceId, tokenHash, frames: new TokenBucket(rate, rate), answering: new Set<Promise<void>>() })
  connections.set(peer, conn)
  useHub().add(conn)
}

export async function datalinkMessage(peer: Peer, text: FrameText): Promise<void> {
  const conn = connections.get(peer)
  if (!conn || conn.closed) return
  conn.alive = true
  const hub = useHub()
  // Every publish is answered, one refused for the rate too: with its ref, one error each.
  if (conn.frames && !conn.frames.take()) return hub.send(conn, errorFrame('rate_limited', 'too many frames: slow down', peekRef(text)))
  const max = mercuryConfig().maxPayloadBytes
  const parsed = parseFrame(text, max + FRAME_ALLOWANCE_BYTES, datalinkFrameSchema)
  if (!parsed.ok) return hub.send(conn, parsed.error)
  const frame = parsed.frame
  if (frame.type === 'ping') return hub.send(conn, pongFrame(frame.ref))
  if (overPayloadLimit(text as string, frame, max)) return hub.send(conn, errorFrame('payload_too_large', `the message is larger than ${max} bytes`, frame.ref))
  if (conn.ending) return hub.send(conn, errorFrame('unauthorized', `not published: ${conn.ending}`, frame.ref))
  const answered = publishFrame(conn, frame)
  conn.answering.add(answered)
  await answered
  conn.answering.delete(answered)
}

async function publishFrame(conn: DatalinkConnection, frame: DatalinkPublish): Promise<void> {
  const hub = useHub()
  const { topic, ref, type: _type, ...input } = frame
  try {
    const source = await sourceById(conn.sourceId)
    const ending = endingReason(source, conn)
    if (ending) {
      hub.send(conn, errorFrame('unauthorized', `not published: ${ending}`, ref))
      return endDatalink(conn, ending)
    }
    const published = await publishMessage({ kind: 'source', source: source! }, topic, input)
    hub.send(conn, JSON.stringify({ type: 'ack', ...(ref === undefined ? {} : { ref }), id: published.id, topic, offset: published.offset, createdAt: published.createdAt }))
  }
  catch (error) {
    if (error instanceof PublishError) return hub.send(conn, errorFrame(error.code, error.message, ref))
    if (isDatabaseUnavailable(error)) return hub.send(conn, errorFrame('unavailable', 'the database is unavailable; retry shortly', ref))
    console.error('mercury: publish over /datalink failed:', error)
    hub.send(conn, errorFrame('internal', 'the message could not be stored; retry', ref))
  }
}

/**
 * Whether a publish frame's message is over the limit a REST body has: the frame less its type,
 * ref and topic (what a REST publish says in its URL), so that both take the same messages.
 */
function overPayloadLimit(text: string, frame: DatalinkPublish, max: number): boolean {
  if (text.length * 3 <= max) return false
  // The envelope's fields and the comma after them.
  const envelope = Buffer.byteLength(JSON.stringify({ type: frame.type, ref: frame.ref, topic: frame.topic })) - 1
  return Buffer.byteLength(text) - envelope > max
}

/** Why a producer's socket must close (its source deleted, no longer active, or its token rotated), or null. */
function endingReason(source: SourceInfo | null, conn: DatalinkConnection): string | null {
  if (!source) return 'source deleted'
  if (source.status !== 'active') return `source ${source.status}`
  return source.tokenHash === conn.tokenHash ? null : 'token rotated'
}

/**
 * Closes a producer's socket (4001) once the publishes it sent before are answered (at most
 * ANSWER_WAIT_MS): each gets its ack or error, so the producer knows which were published.
 * Frames that arrive meanwhile are refused.
 */
function endDatalink(conn: DatalinkConnection, reason: string): void {
  if (conn.ending || conn.closed) return
  conn.ending = reason
  let timer: ReturnType<typeof setTimeout> | undefined
  const waited = new Promise<void>(resolve => timer = setTimeout(resolve, ANSWER_WAIT_MS))
  void Promise.race([Promise.allSettled([...conn.answering]), waited]).then(() => {
    clearTimeout(timer)
    useHub().disconnect(conn, CLOSE.UNAUTHORIZED, reason)
  })
}

export function closeDatalink(peer: Peer): void {
  const conn = connections.get(peer)
  if (conn) useHub().remove(conn)
  connections.delete(peer)
}

/** After an admin changed a source: close its producers' sockets unless it is active with the same token. */
export async function recheckSourceConnections(sourceId: string): Promise<void> {
  const hub = useHub()
  const conns = hub.sourceConnections(sourceId) as DatalinkConnection[]
  if (conns.length === 0) return
  const source = await sourceById(sourceId)
  for (const conn of conns) {
    const ending = endingReason(source, conn)
    if (ending) endDatalink(conn, ending)
  }
}
