import { idParamSchema } from '#shared/schemas/accounts'
import { findSource } from '../../../services/sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  return await findSource(id) ?? notFound('Source')
})
