import { idParamSchema, memberSchema } from '#shared/schemas/accounts'
import { addMember } from '../../../../services/groups'
import { announce } from '../../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const { userId } = await parseBody(event, memberSchema)
  const membership = await addMember(id, userId)
  await announce({ type: 'permissions.changed', userIds: [userId] })
  await announce({ type: 'admin.event', event: { entity: 'group', action: 'member-added', id, userId } })
  setResponseStatus(event, 201)
  return membership
})
