import { groupUpdateSchema, idParamSchema } from '#shared/schemas/accounts'
import { isMissingRow, isUniqueViolation } from '../../../services/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const input = await parseBody(event, groupUpdateSchema)
  try {
    const group = await useDb().group.update({ where: { id }, data: input })
    await announce({ type: 'admin.event', event: { entity: 'group', action: 'updated', id } })
    return group
  }
  catch (error) {
    if (isMissingRow(error)) notFound('Group')
    if (isUniqueViolation(error)) conflict(`Group "${input.name}" exists`)
    throw error
  }
})
