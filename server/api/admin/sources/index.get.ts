import { listSources } from '../../../services/sources'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  return listSources()
})
