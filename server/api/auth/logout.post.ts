import { LOGIN_TOKEN_NAME, revokeTokens } from '../../services/accounts'

export default defineEventHandler(async (event) => {
  const user = await authenticate(event)
  if (user?.tokenId) {
    await revokeTokens({ id: user.tokenId, name: LOGIN_TOKEN_NAME })
  }
  await clearUserSession(event)
  return { loggedOut: true }
})
