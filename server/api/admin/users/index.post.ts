import { userCreateSchema } from '#shared/schemas/accounts'
import { createUser, isUniqueViolation } from '../../../services/accounts'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await parseBody(event, userCreateSchema)
  try {
    const user = await createUser(input)
    setResponseStatus(event, 201)
    return user
  }
  catch (error) {
    if (isUniqueViolation(error)) conflict(`Username "${input.username}" is taken`)
    throw error
  }
})
