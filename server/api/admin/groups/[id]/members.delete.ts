import { idParamSchema, memberSchema } from '#shared/schemas/accounts'
import { removeMember } from '../../../../services/groups'
import { announce } from '../../../../services/control'

// The member is named in the body ({userId}) or the query (?userId=); both: the same, else 400.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const { userId } = await parseQueryOrBody(event, memberSchema)
  await removeMember(id, userId)
  await announce({ type: 'permissions.changed', userIds: [userId] })
  await announce({ type: 'admin.event', event: { entity: 'group', action: 'member-removed', id, userId } })
  setResponseStatus(event, 204)
  return null
})
