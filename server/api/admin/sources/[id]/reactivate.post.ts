import { changeSourceStatus } from '../../../../services/admin-sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  return changeSourceStatus(event, 'reactivate')
})
