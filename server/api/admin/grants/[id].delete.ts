import { idParamSchema } from '#shared/schemas/accounts'
import { deleteGrant } from '../../../services/grants'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  await deleteGrant(id)
  setResponseStatus(event, 204)
  return null
})
