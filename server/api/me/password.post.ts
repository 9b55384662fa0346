import { passwordChangeSchema } from '#shared/schemas/accounts'
import { changeOwnPassword, userGone } from '../../services/accounts'
import { recordLoginSuccess, releaseLoginAttempt } from '../../services/login-limiter'

export default defineEventHandler(async (event) => {
  const { id, username, tokenId } = await requireUser(event)
  const { currentPassword, newPassword } = await parseBody(event, passwordChangeSchema)
  // Guesses of the current password count as failed logins: a stolen session cannot try many.
  const address = await passwordAttempt(event, username, 'password checks')
  const user = await useDb().user.findUnique({ where: { id }, select: { passwordHash: true } }).catch(async (error: unknown) => {
    await releaseLoginAttempt(username, address) // not checked: not a failure
    throw error
  })
  // Deleted since their token was checked: refused as their token now is.
  if (!user) {
    await releaseLoginAttempt(username, address)
    userGone()
  }
  if (!await verifyPassword(user.passwordHash, currentPassword)) {
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: 'The current password is wrong' })
  }
  await recordLoginSuccess(username, address)
  if (!await changeOwnPassword(id, user.passwordHash, newPassword, tokenId)) {
    if (!await useDb().user.count({ where: { id } })) userGone()
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: 'The current password is wrong: it was changed meanwhile' })
  }
  return { changed: true }
})
