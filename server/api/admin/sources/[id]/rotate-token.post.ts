import { idParamSchema } from '#shared/schemas/accounts'
import { isMissingRow } from '../../../../services/accounts'
import { announceSource } from '../../../../services/admin-sources'
import { rotateSourceToken } from '../../../../services/sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  try {
    const rotated = await rotateSourceToken(id)
    if (!rotated) notFound('Source')
    if (rotated === 'raced') conflict('The token was rotated by another request at the same moment: rotate again to get a token of your own')
    await announceSource(id, 'rotated', rotated.source)
    return rotated
  }
  catch (error) {
    if (isMissingRow(error)) notFound('Source')
    throw error
  }
})
