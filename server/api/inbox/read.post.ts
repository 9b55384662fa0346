import { inboxReadSchema } from '#shared/schemas/messages'
import { announce } from '../../services/control'
import { queryRaw } from '../../utils/db'

// Marks notifications read ({ids} are notification ids, as in frames and pushes; or {all: true},
// up to `upTo` when given) and tells the user's other open devices over /channel.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const input = await parseBody(event, inboxReadSchema)
  const readAt = new Date()
  const db = useDb()
  if (input.all) {
    const { upTo } = input
    const { count } = await db.inboxItem.updateMany({
      where: { userId: user.id, readAt: null, ...(upTo ? { createdAt: { lte: upTo } } : {}) },
      data: { readAt },
    })
    if (count > 0) await announce({ type: 'inbox.read', userId: user.id, all: true, upTo: upTo?.toISOString(), readAt: readAt.toISOString() })
    return { updated: count, readAt }
  }
  // The other devices hear of what changed, by notification id (how they know an item), each once:
  // the rows this statement turned read, so that the same ids marked from two devices at once are
  // announced by one of them only. The ids travel as one parameter (a thousand would pass
  // SQLite's limit of bound values one by one).
  const turned = await queryRaw<{ notificationId: string }>((sql) => {
    const ids = sql.list(input.ids)
    return `UPDATE "InboxItem" SET "readAt" = ${sql.timestamp(readAt)} WHERE "userId" = ${sql.param(user.id)} AND "readAt" IS NULL `
      + `AND ("notificationId" IN ${ids} OR "id" IN ${ids}) RETURNING "notificationId"`
  })
  if (turned.length === 0) return { updated: 0, readAt }
  await announce({ type: 'inbox.read', userId: user.id, ids: turned.map(row => row.notificationId), readAt: readAt.toISOString() })
  return { updated: turned.length, readAt }
})
