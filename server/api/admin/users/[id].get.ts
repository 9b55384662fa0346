import { idParamSchema } from '#shared/schemas/accounts'
import { findUser } from '../../../services/accounts'
import { effectivePermissions } from '../../../services/permissions'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = parseParams(event, idParamSchema)
  const user = await findUser(id)
  if (!user) notFound('User')
  return { ...user, permissions: await effectivePermissions(id) }
})
