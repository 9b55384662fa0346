import { idParamSchema } from '#shared/schemas/accounts'
import { deleteGrant } from '../../../services/grants'
import { announce } from '../../../services/control'

// Same as DELETE /api/admin/grants/:id, for clients that name the grant in the body or query
// (both: the same id, else 400).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await parseQueryOrBody(event, idParamSchema)
  await deleteGrant(id)
  await announce({ type: 'permissions.changed' })
  await announce({ type: 'admin.event', event: { entity: 'grant', action: 'deleted', id } })
  setResponseStatus(event, 204)
  return null
})
