import { inboxQuerySchema } from '#shared/schemas/messages'
import { toInboxEntry } from '../../services/notifications'

// The user's notifications, newest first. Page with ?before=<nextBefore>&beforeId=<nextBeforeId>
// (utils/paging.ts).
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { before, beforeId, limit, q, topic, unread } = parseQuery(event, inboxQuerySchema)
  // SQLite's LIKE ignores case for ASCII; PostgreSQL needs to be told.
  const mode = isPostgresUrl(mercuryConfig().databaseUrl) ? { mode: 'insensitive' } : {}
  const text = q ? { contains: q, ...mode } as { contains: string } : undefined
  const rows = await useDb().inboxItem.findMany({
    where: {
      userId: user.id,
      ...olderThan(before, beforeId),
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
  const last = items.length === limit ? items[items.length - 1]! : null
  return { items, unread: unreadCount, nextBefore: last?.createdAt ?? null, nextBeforeId: last?.itemId ?? null }
})
