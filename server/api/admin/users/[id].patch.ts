import { idParamSchema, userUpdateSchema } from '#shared/schemas/accounts'
import { countAdmins, findUser, isUniqueViolation, updateUser } from '../../../services/accounts'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const input = await parseBody(event, userUpdateSchema)
  const user = await findUser(id)
  if (!user) notFound('User')
  if (user.role === 'admin' && input.role === 'user' && await countAdmins() <= 1) {
    conflict('This is the last admin: make another admin first')
  }
  try {
    return await updateUser(id, input)
  }
  catch (error) {
    if (isUniqueViolation(error)) conflict(`Username "${input.username}" is taken`)
    throw error
  }
})
