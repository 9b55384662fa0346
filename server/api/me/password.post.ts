import { passwordChangeSchema } from '#shared/schemas/accounts'
import { updateUser } from '../../services/accounts'

export default defineEventHandler(async (event) => {
  const { id, tokenId } = await requireUser(event)
  const { currentPassword, newPassword } = await parseBody(event, passwordChangeSchema)
  const user = await useDb().user.findUnique({ where: { id }, select: { passwordHash: true } })
  if (!user || !await verifyPassword(user.passwordHash, currentPassword)) {
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: 'The current password is wrong' })
  }
  await updateUser(id, { password: newPassword }, { keepTokenId: tokenId })
  return { changed: true }
})
