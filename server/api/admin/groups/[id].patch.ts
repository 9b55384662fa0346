import { groupUpdateSchema, idParamSchema } from '#shared/schemas/accounts'
import { isMissingRow, isUniqueViolation } from '../../../services/accounts'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const input = await parseBody(event, groupUpdateSchema)
  try {
    return await useDb().group.update({ where: { id }, data: input })
  }
  catch (error) {
    if (isMissingRow(error)) notFound('Group')
    if (isUniqueViolation(error)) conflict(`Group "${input.name}" exists`)
    throw error
  }
})
