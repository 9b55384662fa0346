import { logoutSchema } from '#shared/schemas/accounts'
import { LOGIN_TOKEN_NAME, revokeTokens } from '../../services/accounts'

// Ends this session, or the login `tokenId` names. With `endpoint` (the browser's push endpoint),
// that device of the user is removed too: a browser someone logged out of gets none of their pushes.
export default defineEventHandler(async (event) => {
  const { endpoint, tokenId } = await parseBody(event, logoutSchema, { optional: true })
  const user = await authenticate(event)
  if (user?.tokenId && bearerToken(event)) {
    // A token made with POST /api/me/tokens is not a login: a logout would end nothing.
    const token = await useDb().accessToken.findUnique({ where: { id: user.tokenId }, select: { name: true } })
    if (token && token.name !== LOGIN_TOKEN_NAME) {
      badRequest('This is a personal access token, not a login: a logout does not end it (revoke it with DELETE /api/me/tokens/:id)')
    }
  }
  if (user && tokenId && tokenId !== user.tokenId) {
    // Sent late (asked offline, sent once a login was made meanwhile on this browser): it ends
    // the login it names if it is this user's, and never the session this request comes with.
    if (await revokeTokens({ id: tokenId, userId: user.id, name: LOGIN_TOKEN_NAME }) === 0) {
      conflict('This logout is for another login, which this session cannot end: nothing was ended')
    }
    if (endpoint) await useDb().device.deleteMany({ where: { endpoint, userId: user.id } })
    return { loggedOut: true }
  }
  if (user?.tokenId) {
    await revokeTokens({ id: user.tokenId, name: LOGIN_TOKEN_NAME })
  }
  if (user && endpoint) {
    await useDb().device.deleteMany({ where: { endpoint, userId: user.id } })
  }
  await clearUserSession(event)
  return { loggedOut: true }
})
