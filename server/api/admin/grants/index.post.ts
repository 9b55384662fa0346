import { grantCreateSchema } from '#shared/schemas/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await parseBody(event, grantCreateSchema)
  const db = useDb()
  if (input.userId && !await db.user.findUnique({ where: { id: input.userId }, select: { id: true } })) notFound('User')
  if (input.groupId && !await db.group.findUnique({ where: { id: input.groupId }, select: { id: true } })) notFound('Group')
  const grant = await db.grant.create({ data: input })
  await announce({ type: 'permissions.changed' })
  await announce({ type: 'admin.event', event: { entity: 'grant', action: 'created', id: grant.id, userId: grant.userId, groupId: grant.groupId } })
  setResponseStatus(event, 201)
  return grant
})
