import { sourceCreateSchema } from '#shared/schemas/sources'
import { isUniqueViolation } from '../../../services/accounts'
import { createSource } from '../../../services/sources'
import { announceSource } from '../../../services/admin-sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await parseBody(event, sourceCreateSchema)
  try {
    const created = await createSource(input)
    await announceSource(created.source.id, 'created', created.source)
    setResponseStatus(event, 201)
    return created
  }
  catch (error) {
    if (isUniqueViolation(error)) conflict(`A source named "${input.name}" exists`)
    throw error
  }
})
