import { z } from 'zod'
import { removeMember } from '../../../../../services/groups'
import { announce } from '../../../../../services/control'

const paramsSchema = z.object({ id: z.string().min(1).max(64), userId: z.string().min(1).max(64) })

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id, userId } = parseParams(event, paramsSchema)
  await removeMember(id, userId)
  await announce({ type: 'permissions.changed', userIds: [userId] })
  await announce({ type: 'admin.event', event: { entity: 'group', action: 'member-removed', id, userId } })
  setResponseStatus(event, 204)
  return null
})
