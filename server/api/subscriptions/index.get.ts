import { canRead, effectivePermissions } from '../../services/permissions'

// Every stored subscription, those whose topic the user may no longer read included: they are
// kept (they resume if access comes back) and count toward the limit, so the user must see them
// to remove them.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const [permissions, subscriptions] = await Promise.all([
    effectivePermissions(user.id),
    useDb().subscription.findMany({
      where: { userId: user.id },
      select: { topic: true, push: true, createdAt: true },
      orderBy: { topic: 'asc' },
    }),
  ])
  return subscriptions.map(s => ({ ...s, readable: canRead(permissions, s.topic) }))
})
