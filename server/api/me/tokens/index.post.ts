import { tokenCreateSchema } from '#shared/schemas/accounts'
import { createAccessToken } from '../../../services/accounts'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { name } = await parseBody(event, tokenCreateSchema)
  setResponseStatus(event, 201)
  return createAccessToken(user.id, name)
})
