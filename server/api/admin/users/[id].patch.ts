import { idParamSchema, userUpdateSchema } from '#shared/schemas/accounts'
import { countAdmins, findUser, isUniqueViolation, updateUser, usernameTakenAs } from '../../../services/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const input = await parseBody(event, userUpdateSchema)
  const user = await findUser(id)
  if (!user) notFound('User')
  const taken = input.username === undefined ? null : await usernameTakenAs(input.username, id)
  if (taken) conflict(`Username "${input.username}" is taken (as "${taken}")`)
  if (user.role === 'admin' && input.role === 'user' && await countAdmins() <= 1) {
    conflict('This is the last admin: make another admin first')
  }
  try {
    const updated = await updateUser(id, input)
    if (input.role) await announce({ type: 'permissions.changed', userIds: [id] })
    await announce({ type: 'admin.event', event: { entity: 'user', action: 'updated', id } })
    return updated
  }
  catch (error) {
    if (isUniqueViolation(error)) conflict(`Username "${input.username}" is taken`)
    throw error
  }
})
