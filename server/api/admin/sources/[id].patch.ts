import { idParamSchema } from '#shared/schemas/accounts'
import { sourceUpdateSchema } from '#shared/schemas/sources'
import { isMissingRow, isUniqueViolation } from '../../../services/accounts'
import { announceSource } from '../../../services/admin-sources'
import { updateSource } from '../../../services/sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const input = await parseBody(event, sourceUpdateSchema)
  try {
    const source = await updateSource(id, input)
    await announceSource(id, 'updated', source)
    return source
  }
  catch (error) {
    if (isMissingRow(error)) notFound('Source')
    if (isUniqueViolation(error)) conflict(`A source named "${input.name}" exists`)
    throw error
  }
})
