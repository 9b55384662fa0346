import { idParamSchema } from '#shared/schemas/accounts'
import { isMissingRow } from '../../../../services/accounts'
import { announceSource } from '../../../../services/admin-sources'
import { rotateSourceToken } from '../../../../services/sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  try {
    const rotated = await rotateSourceToken(id)
    await announceSource(id, 'rotated', rotated.source)
    return rotated
  }
  catch (error) {
    if (isMissingRow(error)) notFound('Source')
    throw error
  }
})
