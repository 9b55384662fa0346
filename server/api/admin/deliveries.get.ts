import { deliveriesQuerySchema } from '#shared/schemas/devices'
import { deliverySelect, toDelivery } from '../../services/devices'

// The delivery log with filters, and the counts by status (for the same filters but status,
// whatever the page). Page with ?before=<nextBefore>&beforeId=<nextBeforeId> (utils/paging.ts).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const q = parseQuery(event, deliveriesQuerySchema)
  const where = {
    deviceId: q.deviceId,
    notificationId: q.notificationId,
    notification: q.topic ? { topic: q.topic } : undefined,
    createdAt: q.since || q.until ? { gte: q.since, lte: q.until } : undefined,
  }
  const db = useDb()
  const [rows, grouped] = await Promise.all([
    db.delivery.findMany({
      where: { ...where, AND: [olderThan(q.before, q.beforeId)], status: q.status },
      select: { ...deliverySelect, device: { select: { id: true, name: true, endpoint: true, userId: true, user: { select: { username: true } } } } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit,
    }),
    db.delivery.groupBy({ by: ['status'], where, _count: { _all: true } }),
  ])
  const counts = { queued: 0, sent: 0, failed: 0, expired: 0 }
  for (const g of grouped) counts[g.status as keyof typeof counts] = g._count._all
  return {
    items: rows.map(({ device: { user, ...device }, ...row }) => toDelivery({ ...row, device: { ...device, username: user.username } })),
    counts,
    nextBefore: rows.length === q.limit ? rows.at(-1)!.createdAt : null,
    nextBeforeId: rows.length === q.limit ? rows.at(-1)!.id : null,
  }
})
