export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const groups = await useDb().group.findMany({
    orderBy: { name: 'asc' },
    include: { memberships: { select: { user: { select: { id: true, username: true } } } } },
  })
  return groups.map(({ memberships, ...group }) => ({ ...group, members: memberships.map(m => m.user) }))
})
