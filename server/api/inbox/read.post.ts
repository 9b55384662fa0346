import { inboxReadSchema } from '#shared/schemas/messages'
import { announce } from '../../services/control'

// Marks notifications read ({ids} are notification ids, as in frames and pushes; or {all: true})
// and tells the user's other open devices over /channel.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const input = await parseBody(event, inboxReadSchema)
  const readAt = new Date()
  const ids = 'ids' in input ? input.ids : undefined
  const { count } = await useDb().inboxItem.updateMany({
    where: {
      userId: user.id,
      readAt: null,
      ...(ids ? { OR: [{ notificationId: { in: ids } }, { id: { in: ids } }] } : {}),
    },
    data: { readAt },
  })
  await announce({ type: 'inbox.read', userId: user.id, ids, all: ids ? undefined : true, readAt: readAt.toISOString() })
  return { updated: count, readAt }
})
