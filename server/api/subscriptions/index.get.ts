export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  return useDb().subscription.findMany({
    where: { userId: user.id },
    select: { topic: true, push: true, createdAt: true },
    orderBy: { topic: 'asc' },
  })
})
