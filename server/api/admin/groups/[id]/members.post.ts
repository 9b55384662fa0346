import { idParamSchema, memberSchema } from '#shared/schemas/accounts'
import { requireGroupAndUser } from '../../../../services/groups'
import { announce } from '../../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const { userId } = await parseBody(event, memberSchema)
  await requireGroupAndUser(id, userId)
  const membership = await useDb().membership.upsert({
    where: { userId_groupId: { userId, groupId: id } },
    create: { userId, groupId: id },
    update: {},
  })
  await announce({ type: 'permissions.changed', userIds: [userId] })
  await announce({ type: 'admin.event', event: { entity: 'group', action: 'member-added', id, userId } })
  setResponseStatus(event, 201)
  return membership
})
