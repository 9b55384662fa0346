import { canRead, effectivePermissions } from '../../services/permissions'

// Topics the user may read: every topic published to so far, plus those they subscribed to.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const db = useDb()
  const [permissions, topics, subscriptions] = await Promise.all([
    effectivePermissions(user.id),
    db.topic.findMany({ select: { name: true, messageCount: true, lastMessageAt: true }, orderBy: { name: 'asc' } }),
    db.subscription.findMany({ where: { userId: user.id }, select: { topic: true, push: true } }),
  ])
  const subscribed = new Map(subscriptions.map(s => [s.topic, s.push]))
  const byName = new Map(topics.map(t => [t.name, t]))
  for (const topic of subscribed.keys()) {
    if (!byName.has(topic)) byName.set(topic, { name: topic, messageCount: 0, lastMessageAt: null })
  }
  return [...byName.values()]
    .filter(t => canRead(permissions, t.name))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(t => ({ ...t, subscribed: subscribed.has(t.name), push: subscribed.get(t.name) ?? false }))
})
