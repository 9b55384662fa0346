import { z } from 'zod'
import type { ControlEvent } from './realtime/layer'
import { broadcastControl, useHub } from './realtime'
import { canRead } from './permissions'
import { joinStored, refreshChannelPermissions, type ChannelConnection } from './realtime/channel'
import { recheckSourceConnections } from './realtime/datalink'
import { unsubscribedFrame } from './realtime/frames'
import { CLOSE } from './realtime/hub'
import { useDb } from '../utils/db'
import { forgetAllSources, forgetSource } from './sources'

// Changes that every instance must apply to its own connections. Each is broadcast through the
// channel layer (Redis pub/sub when scaled out) and handled here, on every instance.
const controlSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('source.changed'), id: z.string() }),
  z.object({ type: z.literal('permissions.changed'), userIds: z.array(z.string()).optional() }),
  z.object({ type: z.literal('user.deleted'), userId: z.string() }),
  // Personal access tokens that ended (logout, revocation, a new password): the connections opened
  // with them, or with a session resting on them, close.
  z.object({ type: z.literal('tokens.revoked'), tokenIds: z.array(z.string()) }),
  z.object({ type: z.literal('subscription.changed'), userId: z.string(), topic: z.string(), subscribed: z.boolean() }),
  z.object({ type: z.literal('inbox.read'), userId: z.string(), ids: z.array(z.string()).optional(), all: z.boolean().optional(), upTo: z.string().optional(), readAt: z.string() }),
  // Anything admin views show live (a source changed, a user created…): sent to every admin's
  // /channel connections as {"type":"admin", ...event}.
  z.object({ type: z.literal('admin.event'), event: z.record(z.string(), z.unknown()) }),
])

export type Control = z.infer<typeof controlSchema>

export function announce(event: Control): Promise<void> {
  return broadcastControl(event)
}

export async function handleControl(raw: ControlEvent): Promise<void> {
  const parsed = controlSchema.safeParse(raw)
  if (!parsed.success) return // another version's event, or not for us
  const event = parsed.data
  const hub = useHub()
  switch (event.type) {
    case 'source.changed':
      forgetSource(event.id)
      return recheckSourceConnections(event.id)
    case 'permissions.changed':
      return refreshChannelPermissions(event.userIds)
    case 'user.deleted':
      for (const conn of hub.userConnections(event.userId)) hub.disconnect(conn, CLOSE.UNAUTHORIZED, 'user deleted')
      return
    case 'tokens.revoked': {
      const revoked = new Set(event.tokenIds)
      for (const userId of hub.connectedUsers()) {
        for (const conn of hub.userConnections(userId) as ChannelConnection[]) {
          if (conn.tokenId && revoked.has(conn.tokenId)) hub.disconnect(conn, CLOSE.UNAUTHORIZED, 'logged out or token revoked')
        }
      }
      return
    }
    case 'subscription.changed':
      for (const conn of hub.userConnections(event.userId) as ChannelConnection[]) {
        if (event.subscribed) conn.stored.add(event.topic)
        else conn.stored.delete(event.topic)
        // The socket says so, as it says `subscribed` when a stored subscription is added.
        if (!event.subscribed) {
          if (hub.unsubscribe(conn, event.topic)) hub.send(conn, unsubscribedFrame(event.topic))
        }
        else if (!canRead(conn.permissions, event.topic)) continue
        else if (!conn.topics.has(event.topic)) await joinStored(conn, [event.topic])
        // Already followed (a live view asked for it): it says so again, now unasked, so that the
        // client knows the topic's notifications are its own from now on.
        else hub.sendSubscribed(conn, event.topic)
      }
      return
    case 'inbox.read':
      hub.sendToUser(event.userId, JSON.stringify({ type: 'read', ids: event.ids, all: event.all, upTo: event.upTo, readAt: event.readAt }))
      return
    case 'admin.event': {
      const frame = JSON.stringify({ ...event.event, type: 'admin' })
      for (const userId of hub.connectedUsers()) {
        const conns = hub.userConnections(userId) as ChannelConnection[]
        if (conns[0]?.permissions.admin) for (const conn of conns) hub.send(conn, frame)
      }
    }
  }
}

/**
 * After this instance's control channel was away (Redis reconnected, or a broadcast that failed):
 * events sent meanwhile may never have arrived. Every open connection is checked against the
 * database as those events would have done: sources read again (deactivated, rotated, deleted:
 * their producers close), sessions and tokens that ended and deleted users close, permissions and
 * stored subscriptions are compared.
 */
export async function reconcileConnections(): Promise<void> {
  const hub = useHub()
  forgetAllSources()
  for (const sourceId of hub.connectedSources()) await recheckSourceConnections(sourceId)
  const users = hub.connectedUsers()
  if (users.length === 0) return
  const conns = users.flatMap(userId => hub.userConnections(userId) as ChannelConnection[])
  const tokenIds = [...new Set(conns.flatMap(conn => conn.tokenId ? [conn.tokenId] : []))]
  const db = useDb()
  const [liveUsers, liveTokens] = await Promise.all([
    db.user.findMany({ where: { id: { in: users } }, select: { id: true } }),
    db.accessToken.findMany({ where: { id: { in: tokenIds } }, select: { id: true } }),
  ])
  const userIds = new Set(liveUsers.map(user => user.id))
  const tokens = new Set(liveTokens.map(token => token.id))
  for (const conn of conns) {
    if (!userIds.has(conn.userId)) hub.disconnect(conn, CLOSE.UNAUTHORIZED, 'user deleted')
    else if (conn.tokenId && !tokens.has(conn.tokenId)) hub.disconnect(conn, CLOSE.UNAUTHORIZED, 'logged out or token revoked')
  }
  await refreshChannelPermissions(undefined, { subscriptions: true })
}
