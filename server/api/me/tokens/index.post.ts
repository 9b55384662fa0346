import { tokenCreateSchema } from '#shared/schemas/accounts'
import { createAccessToken, LOGIN_TOKEN_NAME } from '../../../services/accounts'

/** Personal access tokens a user may hold (a login's token is not one of them). */
const MAX_PERSONAL_TOKENS = 100

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { name } = await parseBody(event, tokenCreateSchema)
  if (await useDb().accessToken.count({ where: { userId: user.id, name: { not: LOGIN_TOKEN_NAME } } }) >= MAX_PERSONAL_TOKENS) {
    conflict(`At most ${MAX_PERSONAL_TOKENS} personal access tokens per user: revoke one first`)
  }
  setResponseStatus(event, 201)
  return createAccessToken(user.id, name)
})
