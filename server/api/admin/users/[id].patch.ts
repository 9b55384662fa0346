import { idParamSchema, userUpdateSchema } from '#shared/schemas/accounts'
import { findUser, isMissingRow, isUniqueViolation, unlessLastAdmin, updateUser, usernameTakenAs } from '../../../services/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const input = await parseBody(event, userUpdateSchema)
  const user = await findUser(id)
  if (!user) notFound('User')
  const taken = input.username === undefined ? null : await usernameTakenAs(input.username, id)
  if (taken) conflict(`Username "${input.username}" is taken (as "${taken}")`)
  try {
    // The demotion first, with the admins locked: two admins demoting each other at once cannot
    // leave none. The rest (a password takes a while to hash) follows.
    if (input.role === 'user' && !await unlessLastAdmin(id, tx => tx.user.update({ where: { id }, data: { role: 'user' } }))) {
      conflict('This is the last admin: make another admin first')
    }
    const updated = await updateUser(id, input)
    if (input.role) await announce({ type: 'permissions.changed', userIds: [id] })
    await announce({ type: 'admin.event', event: { entity: 'user', action: 'updated', id } })
    return updated
  }
  catch (error) {
    if (isUniqueViolation(error)) conflict(`Username "${input.username}" is taken`)
    // Deleted by another request meanwhile.
    if (isMissingRow(error)) notFound('User')
    throw error
  }
})
