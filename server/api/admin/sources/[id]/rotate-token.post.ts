import { idParamSchema } from '#shared/schemas/accounts'
import { isMissingRow } from '../../../../services/accounts'
import { announceSource } from '../../../../services/admin-sources'
import { ROTATION_QUIET_MS, rotateSourceToken } from '../../../../services/sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  try {
    // Announced (the producers of the old token close) before it is answered.
    const rotated = await rotateSourceToken(id, source => announceSource(id, 'rotated', source))
    if (!rotated) notFound('Source')
    if (rotated === 'raced') {
      setResponseHeader(event, 'retry-after', Math.ceil(ROTATION_QUIET_MS / 1000))
      conflict('The token was rotated by another request at the same moment: rotate again in a second to get a token of your own')
    }
    return rotated
  }
  catch (error) {
    if (isMissingRow(error)) notFound('Source')
    throw error
  }
})
