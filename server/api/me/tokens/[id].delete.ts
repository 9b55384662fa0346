import { idParamSchema } from '#shared/schemas/accounts'
import { revokeTokens } from '../../../services/accounts'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { id } = parseParams(event, idParamSchema)
  if (await revokeTokens({ id, userId: user.id }) === 0) notFound('Token')
  setResponseStatus(event, 204)
  return null
})
