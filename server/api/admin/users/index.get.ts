import { listUsers } from '../../../services/accounts'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  return listUsers()
})
