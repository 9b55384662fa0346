import { idParamSchema } from '#shared/schemas/accounts'
import { isMissingRow } from '../../../../services/accounts'
import { announce } from '../../../../services/control'
import { rotateSourceToken } from '../../../../services/sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  try {
    const rotated = await rotateSourceToken(id)
    await announce({ type: 'source.changed', id })
    return rotated
  }
  catch (error) {
    if (isMissingRow(error)) notFound('Source')
    throw error
  }
})
