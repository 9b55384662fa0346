import { findUser } from '../../services/accounts'
import { effectivePermissions } from '../../services/permissions'

export default defineEventHandler(async (event) => {
  const { id } = await requireUser(event)
  const user = await findUser(id)
  if (!user) notFound('User')
  return { user, permissions: await effectivePermissions(id) }
})
