import { idParamSchema } from '#shared/schemas/accounts'
import { findUser, isMissingRow, unlessLastAdmin } from '../../../services/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  const admin = await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const user = await findUser(id)
  if (!user) notFound('User')
  if (user.id === admin.id) conflict('You cannot delete yourself')
  // With the admins locked: two admins deleting (or demoting) each other at once cannot leave none.
  // The user deleted by another request meanwhile is not found, as it would be after.
  const deleted = await unlessLastAdmin(id, tx => tx.user.delete({ where: { id } })).catch((error: unknown) => {
    if (isMissingRow(error)) notFound('User')
    throw error
  })
  if (!deleted) conflict('This is the last admin')
  await announce({ type: 'user.deleted', userId: id })
  await announce({ type: 'admin.event', event: { entity: 'user', action: 'deleted', id } })
  setResponseStatus(event, 204)
  return null
})
