import { idParamSchema } from '#shared/schemas/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const { count } = await useDb().group.deleteMany({ where: { id } })
  if (count === 0) notFound('Group')
  await announce({ type: 'permissions.changed' })
  await announce({ type: 'admin.event', event: { entity: 'group', action: 'deleted', id } })
  setResponseStatus(event, 204)
  return null
})
