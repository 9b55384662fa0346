import { idParamSchema } from '#shared/schemas/accounts'
import { countAdmins, findUser } from '../../../services/accounts'
import { announce } from '../../../services/control'

export default defineEventHandler(async (event) => {
  const admin = await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const user = await findUser(id)
  if (!user) notFound('User')
  if (user.id === admin.id) conflict('You cannot delete yourself')
  if (user.role === 'admin' && await countAdmins() <= 1) conflict('This is the last admin')
  await useDb().user.delete({ where: { id } })
  await announce({ type: 'user.deleted', userId: id })
  await announce({ type: 'admin.event', event: { entity: 'user', action: 'deleted', id } })
  setResponseStatus(event, 204)
  return null
})
