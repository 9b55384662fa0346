import { grantCreateSchema } from '#shared/schemas/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await parseBody(event, grantCreateSchema)
  const db = useDb()
  if (input.userId && !await db.user.findUnique({ where: { id: input.userId }, select: { id: true } })) notFound('User')
  if (input.groupId && !await db.group.findUnique({ where: { id: input.groupId }, select: { id: true } })) notFound('Group')
  // The same grant twice would only have to be deleted twice.
  const same = await db.grant.findFirst({ where: { userId: input.userId ?? null, groupId: input.groupId ?? null, topic: input.topic, read: input.read, publish: input.publish }, select: { id: true } })
  if (same) conflict('This grant exists already', { id: same.id })
  const grant = await db.grant.create({ data: input })
  await announce({ type: 'permissions.changed' })
  await announce({ type: 'admin.event', event: { entity: 'grant', action: 'created', id: grant.id, userId: grant.userId, groupId: grant.groupId } })
  setResponseStatus(event, 201)
  return grant
})
