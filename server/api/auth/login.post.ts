import { loginSchema } from '#shared/schemas/accounts'
import { createAccessToken, lockUser, LOGIN_TOKEN_NAME, toPublicUser, usernameTakenAs } from '../../services/accounts'
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
  const wrong = () => createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Wrong username or password' })
  if (!user || !valid) throw wrong()
  const verified = user
  // The token is made only if the password checked is still the user's, with the user held: a new
  // password (which ends the logins made before it) cannot come between, so a login with the old
  // one sent as it changes cannot outlive the change. It lost: the password is wrong now.
  const created = await useDb().$transaction(async (tx) => {
    if ((await lockUser(tx, verified.id))?.passwordHash !== verified.passwordHash) return null
    return createAccessToken(verified.id, LOGIN_TOKEN_NAME, tx)
  }).catch(async (error: unknown) => {
    await releaseLoginAttempt(username, address)
    throw error
  })
  if (!created) throw wrong()
  await recordLoginSuccess(username, address)
  const { token, accessToken } = created
  const publicUser = toPublicUser(user)
  await startSession(event, {
    user: { id: user.id, username: user.username, role: publicUser.role },
    tokenId: accessToken.id,
    loggedInAt: Date.now(),
  })
  return { user: publicUser, token }
})
