import { inboxQuerySchema } from '#shared/schemas/messages'
import { toInboxEntry } from '../../services/notifications'

// The user's notifications, newest first. Page with ?before=<createdAt of the last item>.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { before, limit, q, topic, unread } = parseQuery(event, inboxQuerySchema)
  // SQLite's LIKE ignores case for ASCII; PostgreSQL needs to be told.
  const mode = isPostgresUrl(mercuryConfig().databaseUrl) ? { mode: 'insensitive' } : {}
  const text = q ? { contains: q, ...mode } as { contains: string } : undefined
  const rows = await useDb().inboxItem.findMany({
    where: {
      userId: user.id,
      createdAt: before ? { lt: before } : undefined,
      readAt: unread ? null : undefined,
      notification: {
        topic,
        ...(text ? { OR: [{ title: text }, { body: text }] } : {}),
      },
    },
    include: { notification: true },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit,
  })
  const items = rows.map(toInboxEntry)
  const unreadCount = await useDb().inboxItem.count({ where: { userId: user.id, readAt: null } })
  return { items, unread: unreadCount, nextBefore: items.length === limit ? items[items.length - 1]!.createdAt : null }
})
