import type { Peer } from 'crossws'
import { datalinkFrameSchema } from '#shared/schemas/messages'
import { mercuryConfig } from '../../utils/config'
import { isDatabaseUnavailable } from '../../utils/unavailable'
import { publishMessage, PublishError } from '../ingest'
import { sourceById } from '../sources'
import { CLOSE, type Connection } from './hub'
import { TokenBucket } from '../../utils/token-bucket'
import { errorFrame, parseFrame, peekRef, pongFrame } from './frames'
import { useHub } from './index'
import { connectionFor } from './peer'

export interface DatalinkConnection extends Connection {
  sourceId: string
  tokenHash: string
}

const connections = new WeakMap<Peer, DatalinkConnection>()

export function openDatalink(peer: Peer, sourceId: string, tokenHash: string): void {
  const rate = mercuryConfig().datalinkFrameRate
  const conn = connectionFor(peer, 'datalink', { sourceId, tokenHash, frames: new TokenBucket(rate, rate) })
  connections.set(peer, conn)
  useHub().add(conn)
}

export async function datalinkMessage(peer: Peer, text: string): Promise<void> {
  const conn = connections.get(peer)
  if (!conn || conn.closed) return
  conn.alive = true
  const hub = useHub()
  // Every publish is answered, one refused for the rate too: with its ref, one error each.
  if (conn.frames && !conn.frames.take()) return hub.send(conn, errorFrame('rate_limited', 'too many frames: slow down', peekRef(text)))
  const parsed = parseFrame(text, mercuryConfig().maxPayloadBytes, datalinkFrameSchema)
  if (!parsed.ok) return hub.send(conn, parsed.error)
  const frame = parsed.frame
  if (frame.type === 'ping') return hub.send(conn, pongFrame(frame.ref))
  const source = await sourceById(conn.sourceId)
  if (!source || source.status !== 'active' || source.tokenHash !== conn.tokenHash) {
    hub.send(conn, errorFrame('unauthorized', 'this source is no longer active', frame.ref))
    return hub.disconnect(conn, CLOSE.UNAUTHORIZED, 'source inactive or token revoked')
  }
  try {
    const { topic, ref, type: _type, ...input } = frame
    const published = await publishMessage({ kind: 'source', source }, topic, input)
    hub.send(conn, JSON.stringify({ type: 'ack', ...(ref === undefined ? {} : { ref }), id: published.id, topic, offset: published.offset, createdAt: published.createdAt }))
  }
  catch (error) {
    if (error instanceof PublishError) return hub.send(conn, errorFrame(error.code, error.message, frame.ref))
    if (isDatabaseUnavailable(error)) return hub.send(conn, errorFrame('unavailable', 'the database is unavailable; retry shortly', frame.ref))
    console.error('mercury: publish over /datalink failed:', error)
    hub.send(conn, errorFrame('internal', 'the message could not be stored; retry', frame.ref))
  }
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
    if (source && source.status === 'active' && source.tokenHash === conn.tokenHash) continue
    const reason = !source ? 'source deleted' : source.status !== 'active' ? `source ${source.status}` : 'token rotated'
    hub.disconnect(conn, CLOSE.UNAUTHORIZED, reason)
  }
}
