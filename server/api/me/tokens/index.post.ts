import { tokenCreateSchema } from '#shared/schemas/accounts'
import { createAccessToken, lockUser, LOGIN_TOKEN_NAME, userGone } from '../../../services/accounts'

/** Personal access tokens a user may hold (a login's token is not one of them). */
const MAX_PERSONAL_TOKENS = 100

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { name } = await parseBody(event, tokenCreateSchema)
  const created = await useDb().$transaction(async (tx) => {
    // One request of the user's at a time counts and adds: several at once cannot pass the limit
    // together, and a user deleted meanwhile gets no token.
    if (!await lockUser(tx, user.id)) userGone()
    if (await tx.accessToken.count({ where: { userId: user.id, name: { not: LOGIN_TOKEN_NAME } } }) >= MAX_PERSONAL_TOKENS) {
      conflict(`At most ${MAX_PERSONAL_TOKENS} personal access tokens per user: revoke one first`)
    }
    return createAccessToken(user.id, name, tx)
  })
  setResponseStatus(event, 201)
  return created
})
