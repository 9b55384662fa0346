import { grantCreateSchema } from '#shared/schemas/accounts'
import { lockGroup, lockUser } from '../../../services/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await parseBody(event, grantCreateSchema)
  const grant = await useDb().$transaction(async (tx) => {
    // The grantee is held while its grants are checked and added: the same grant sent at once is
    // made once (the others are told it exists), and a grantee deleted meanwhile is not found
    // rather than given a grant that cannot be stored.
    if (input.userId && !await lockUser(tx, input.userId)) notFound('User')
    if (input.groupId && !await lockGroup(tx, input.groupId)) notFound('Group')
    // The same grant twice would only have to be deleted twice.
    const same = await tx.grant.findFirst({ where: { userId: input.userId ?? null, groupId: input.groupId ?? null, topic: input.topic, read: input.read, publish: input.publish }, select: { id: true } })
    if (same) conflict('This grant exists already', { id: same.id })
    return tx.grant.create({ data: input })
  })
  await announce({ type: 'permissions.changed' })
  await announce({ type: 'admin.event', event: { entity: 'grant', action: 'created', id: grant.id, userId: grant.userId, groupId: grant.groupId } })
  setResponseStatus(event, 201)
  return grant
})
