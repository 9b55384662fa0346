import { inboxReadSchema } from '#shared/schemas/messages'
import { announce } from '../../services/control'

// Marks notifications read ({ids} are notification ids, as in frames and pushes; or {all: true},
// up to `upTo` when given) and tells the user's other open devices over /channel.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const input = await parseBody(event, inboxReadSchema)
  const readAt = new Date()
  const db = useDb()
  if (!('ids' in input)) {
    const { upTo } = input
    const { count } = await db.inboxItem.updateMany({
      where: { userId: user.id, readAt: null, ...(upTo ? { createdAt: { lte: upTo } } : {}) },
      data: { readAt },
    })
    if (count > 0) await announce({ type: 'inbox.read', userId: user.id, all: true, upTo: upTo?.toISOString(), readAt: readAt.toISOString() })
    return { updated: count, readAt }
  }
  // The other devices hear of what changed, by notification id (how they know an item), each once.
  const unread = await db.inboxItem.findMany({
    where: { userId: user.id, readAt: null, OR: [{ notificationId: { in: input.ids } }, { id: { in: input.ids } }] },
    select: { id: true, notificationId: true },
  })
  if (unread.length === 0) return { updated: 0, readAt }
  const { count } = await db.inboxItem.updateMany({ where: { id: { in: unread.map(row => row.id) }, readAt: null }, data: { readAt } })
  await announce({ type: 'inbox.read', userId: user.id, ids: unread.map(row => row.notificationId), readAt: readAt.toISOString() })
  return { updated: count, readAt }
})
