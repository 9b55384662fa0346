import { groupCreateSchema } from '#shared/schemas/accounts'
import { isUniqueViolation } from '../../../services/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await parseBody(event, groupCreateSchema)
  try {
    const group = await useDb().group.create({ data: input })
    await announce({ type: 'admin.event', event: { entity: 'group', action: 'created', id: group.id } })
    setResponseStatus(event, 201)
    return { ...group, members: [] }
  }
  catch (error) {
    if (isUniqueViolation(error)) conflict(`Group "${input.name}" exists`)
    throw error
  }
})
