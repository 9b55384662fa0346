import type { Peer } from 'crossws'
import { channelFrameSchema } from '#shared/schemas/messages'
import { mercuryConfig } from '../../utils/config'
import { queryRaw } from '../../utils/db'
import { canRead, effectivePermissions, type Permissions } from '../permissions'
import type { Connection } from './hub'
import { TokenBucket } from '../../utils/token-bucket'
import { errorFrame, overFrameLimit, parseFrame, pongFrame, unsubscribedFrame, type FrameText } from './frames'
import { useChannelLayer, useHub } from './index'
import { connectionFor } from './peer'

export interface ChannelConnection extends Connection {
  userId: string
  /** The personal access token it was opened with, or the login token of its session. */
  tokenId?: string
  permissions: Permissions
  /** The user's stored subscriptions as this connection knows them (joined or not). */
  stored: Set<string>
  /** Resolves once the permissions are loaded. */
  ready: Promise<void>
}

const connections = new WeakMap<Peer, ChannelConnection>()

/**
 * Registers the connection at once (frames may arrive before its permissions are loaded: they
 * wait for `ready`), then joins the user's stored subscriptions that they may still read.
 */
export async function openChannel(peer: Peer, userId: string, tokenId?: string): Promise<void> {
  let loaded!: () => void
  const conn: ChannelConnection = connectionFor(peer, 'channel', {
    userId,
    tokenId,
    permissions: { admin: false, read: [], publish: [] },
    stored: new Set<string>(),
    ready: new Promise<void>(resolve => loaded = resolve),
    // Bursts of twice the rate, and at least enough for a client resuming every topic it may
    // follow (one subscribe each, at once, as PROTOCOL.md tells it to).
    frames: new TokenBucket(mercuryConfig().channelFrameRate, Math.max(mercuryConfig().channelFrameRate * 2, mercuryConfig().maxSubscriptionsPerConnection + mercuryConfig().channelFrameRate)),
  })
  connections.set(peer, conn)
  const hub = useHub()
  hub.add(conn)
  try {
    conn.permissions = await effectivePermissions(userId)
  }
  finally {
    loaded()
  }
  const stored = await storedTopics(userId)
  conn.stored = new Set(stored)
  // Held: a client resuming after a reconnect subscribes with its own `since` right away.
  await joinStored(conn, stored, { hold: true })
}

function storedTopics(userId: string): Promise<string[]> {
  return queryRaw<{ topic: string }>(sql => `SELECT "topic" FROM "Subscription" WHERE "userId" = ${sql.param(userId)}`)
    .then(rows => rows.map(row => row.topic))
}

/**
 * Joins the stored subscriptions this connection may read and does not follow yet, up to its
 * topic limit (past it, one `limit_exceeded` error frame says so). One that cannot be joined now
 * (Redis away) is tried again, 1 s, 2 s … 30 s later, for as long as it is still wanted.
 */
export async function joinStored(conn: ChannelConnection, topics: string[], options: { hold?: boolean, attempt?: number } = {}): Promise<void> {
  const hub = useHub()
  const failed: string[] = []
  for (const topic of topics) {
    if (conn.closed) return
    if (!canRead(conn.permissions, topic) || conn.topics.has(topic)) continue
    if (options.attempt && !conn.stored.has(topic)) continue // deleted since the first try
    if (atTopicLimit(conn, topic)) break
    try {
      await hub.subscribe(conn, topic, undefined, undefined, { hold: options.hold })
    }
    catch (error) {
      failed.push(topic)
      if (failed.length === 1) console.warn(`mercury: joining ${topic} failed, trying again shortly:`, (error as Error).message)
    }
  }
  if (failed.length === 0 || conn.closed) return
  const attempt = (options.attempt ?? 0) + 1
  setTimeout(() => void joinStored(conn, failed, { attempt }), Math.min(30_000, 1000 * 2 ** (attempt - 1))).unref?.()
}

/** True, after saying so with an error frame, when following one more topic is over the limit. */
export function atTopicLimit(conn: ChannelConnection, topic: string, ref?: unknown): boolean {
  const max = mercuryConfig().maxSubscriptionsPerConnection
  if (conn.topics.has(topic) || conn.topics.size < max) return false
  useHub().send(conn, errorFrame('limit_exceeded', `at most ${max} topics per connection: "${topic}" is not followed`, ref))
  return true
}

export async function channelMessage(peer: Peer, text: FrameText): Promise<void> {
  const conn = connections.get(peer)
  if (!conn || conn.closed) return
  conn.alive = true
  await conn.ready
  // Closed while its permissions loaded: nothing is answered, nothing followed.
  if (conn.closed) return
  const hub = useHub()
  if (overFrameLimit(conn, frame => hub.send(conn, frame))) return
  const parsed = parseFrame(text, mercuryConfig().maxClientFrameBytes, channelFrameSchema)
  if (!parsed.ok) return hub.send(conn, parsed.error)
  const frame = parsed.frame
  switch (frame.type) {
    case 'ping':
      return hub.send(conn, pongFrame(frame.ref))
    case 'subscribe':
      if (!canRead(conn.permissions, frame.topic)) {
        return hub.send(conn, errorFrame('forbidden', `no read access to "${frame.topic}"`, frame.ref))
      }
      if (atTopicLimit(conn, frame.topic, frame.ref)) return
      // Redis away: say so now rather than leave the subscribe waiting for it to come back.
      if (!useChannelLayer().healthy()) {
        return hub.send(conn, errorFrame('unavailable', 'the channel layer is unavailable; retry shortly', frame.ref))
      }
      try {
        await hub.subscribe(conn, frame.topic, frame.since, frame.ref)
      }
      catch (error) {
        console.warn('mercury: subscribe failed:', (error as Error).message)
        hub.send(conn, errorFrame('unavailable', 'could not subscribe now; retry shortly', frame.ref))
      }
      return
    case 'unsubscribe':
      hub.unsubscribe(conn, frame.topic)
      return hub.send(conn, unsubscribedFrame(frame.topic, frame.ref))
  }
}

export function closeChannel(peer: Peer): void {
  const conn = connections.get(peer)
  if (conn) useHub().remove(conn)
  connections.delete(peer)
}

/**
 * After grants changed: reload each connection's permissions and leave what is no longer readable.
 * `subscriptions`: the stored subscriptions are compared too, as after missed control events:
 * those deleted meanwhile are left, those added are joined.
 */
export async function refreshChannelPermissions(userIds?: string[], { subscriptions = false } = {}): Promise<void> {
  const hub = useHub()
  const users = userIds ?? hub.connectedUsers()
  for (const userId of users) {
    const conns = hub.userConnections(userId) as ChannelConnection[]
    if (conns.length === 0) continue
    const [permissions, stored] = await Promise.all([effectivePermissions(userId), storedTopics(userId)])
    for (const conn of conns) {
      // Read access given (back): the stored subscriptions it opens are joined, as on connecting.
      // Only those this connection could not read until now: one it could read and does not
      // follow, it left with an `unsubscribe`, and that stays so.
      const opened = stored.filter(topic => !canRead(conn.permissions, topic) || (subscriptions && !conn.stored.has(topic)))
      if (subscriptions) {
        for (const topic of conn.stored) {
          if (stored.includes(topic)) continue
          if (hub.unsubscribe(conn, topic)) hub.send(conn, unsubscribedFrame(topic))
        }
        conn.stored = new Set(stored)
      }
      // An admin console on this socket stops receiving admin frames: it says so, so that the
      // console does not go on showing itself live.
      if (conn.permissions.admin && !permissions.admin) hub.send(conn, errorFrame('forbidden', 'admin access ended: admin frames are no longer sent'))
      conn.permissions = permissions
      for (const topic of [...conn.topics.keys()]) {
        if (canRead(permissions, topic)) continue
        hub.unsubscribe(conn, topic)
        hub.send(conn, errorFrame('forbidden', `read access to "${topic}" was revoked`))
        hub.send(conn, unsubscribedFrame(topic))
      }
      await joinStored(conn, opened).catch((error: Error) => {
        console.warn('mercury: joining stored subscriptions failed:', error.message)
      })
    }
  }
}
