export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  return useDb().accessToken.findMany({
    where: { userId: user.id },
    select: { id: true, name: true, createdAt: true, lastUsedAt: true },
    orderBy: { createdAt: 'desc' },
  })
})
