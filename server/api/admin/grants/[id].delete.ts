import { idParamSchema } from '#shared/schemas/accounts'
import { deleteGrant } from '../../../services/grants'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  await deleteGrant(id)
  await announce({ type: 'permissions.changed' })
  await announce({ type: 'admin.event', event: { entity: 'grant', action: 'deleted', id } })
  setResponseStatus(event, 204)
  return null
})
