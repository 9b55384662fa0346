import { idParamSchema } from '#shared/schemas/accounts'
import { announceSource } from '../../../services/admin-sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const { count } = await useDb().source.deleteMany({ where: { id } })
  if (count === 0) notFound('Source')
  await announceSource(id, 'deleted', null)
  setResponseStatus(event, 204)
  return null
})
