import { loginSchema } from '#shared/schemas/accounts'
import { createAccessToken, LOGIN_TOKEN_NAME, toPublicUser, usernameTakenAs } from '../../services/accounts'
import { loginBlockedFor, recordLoginFailure, recordLoginSuccess } from '../../services/login-limiter'

// Verifying against this hash when the user does not exist keeps both answers equally slow.
let dummyHash: Promise<string> | undefined

export default defineEventHandler(async (event) => {
  const { username, password } = await parseBody(event, loginSchema)
  const address = getRequestIP(event) ?? 'unknown'
  const wait = await loginBlockedFor(username, address)
  if (wait > 0) {
    setResponseHeader(event, 'Retry-After', wait)
    throw createError({ statusCode: 429, statusMessage: 'Too Many Requests', message: `Too many failed logins; try again in ${wait} s`, data: { retryAfter: wait } })
  }
  // Usernames are unique ignoring case, so "Alice" logs in as alice.
  const stored = await usernameTakenAs(username)
  const user = stored === null ? null : await useDb().user.findUnique({ where: { username: stored } })
  dummyHash ??= hashPassword('not-a-real-password')
  const valid = await verifyPassword(user?.passwordHash ?? await dummyHash, password)
  if (!user || !valid) {
    await recordLoginFailure(username, address)
    throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Wrong username or password' })
  }
  await recordLoginSuccess(username)
  const { token, accessToken } = await createAccessToken(user.id, LOGIN_TOKEN_NAME)
  const publicUser = toPublicUser(user)
  await replaceUserSession(event, {
    user: { id: user.id, username: user.username, role: publicUser.role },
    tokenId: accessToken.id,
    loggedInAt: Date.now(),
  }, { cookie: { secure: isSecureRequest(event) } })
  return { user: publicUser, token }
})
