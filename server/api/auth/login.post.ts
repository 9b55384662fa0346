import { loginSchema } from '#shared/schemas/accounts'
import { createAccessToken, LOGIN_TOKEN_NAME, toPublicUser, usernameTakenAs } from '../../services/accounts'
import { recordLoginSuccess, releaseLoginAttempt } from '../../services/login-limiter'

// Verifying against this hash when the user does not exist keeps both answers equally slow.
let dummyHash: Promise<string> | undefined

export default defineEventHandler(async (event) => {
  const { username, password } = await parseBody(event, loginSchema)
  const address = await passwordAttempt(event, username, 'logins')
  let user, valid
  try {
    // Usernames are unique ignoring case, so "Alice" logs in as alice.
    const stored = await usernameTakenAs(username)
    user = stored === null ? null : await useDb().user.findUnique({ where: { username: stored } })
    dummyHash ??= hashPassword('not-a-real-password')
    valid = await verifyPassword(user?.passwordHash ?? await dummyHash, password)
  }
  catch (error) {
    await releaseLoginAttempt(username, address)
    throw error
  }
  if (!user || !valid) {
    throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Wrong username or password' })
  }
  await recordLoginSuccess(username, address)
  const { token, accessToken } = await createAccessToken(user.id, LOGIN_TOKEN_NAME)
  const publicUser = toPublicUser(user)
  await startSession(event, {
    user: { id: user.id, username: user.username, role: publicUser.role },
    tokenId: accessToken.id,
    loggedInAt: Date.now(),
  })
  return { user: publicUser, token }
})
