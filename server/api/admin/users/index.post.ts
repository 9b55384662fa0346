import { userCreateSchema } from '#shared/schemas/accounts'
import { createUser, isUniqueViolation, usernameTakenAs } from '../../../services/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await parseBody(event, userCreateSchema)
  const taken = await usernameTakenAs(input.username)
  if (taken) conflict(`Username "${input.username}" is taken (as "${taken}")`)
  try {
    const user = await createUser(input)
    await announce({ type: 'admin.event', event: { entity: 'user', action: 'created', id: user.id } })
    setResponseStatus(event, 201)
    return user
  }
  catch (error) {
    if (isUniqueViolation(error)) conflict(`Username "${input.username}" is taken`)
    throw error
  }
})
