import { grantQuerySchema } from '#shared/schemas/accounts'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { userId, groupId } = parseQuery(event, grantQuerySchema)
  return useDb().grant.findMany({
    where: { userId, groupId },
    include: { user: { select: { id: true, username: true } }, group: { select: { id: true, name: true } } },
    orderBy: { createdAt: 'asc' },
  })
})
