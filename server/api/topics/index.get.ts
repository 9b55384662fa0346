import { canRead, effectivePermissions } from '../../services/permissions'

/** At most this many topics are listed (plus every subscribed one): the most recently active. */
const LISTED = 1000
/** Topics read per statement; the event loop is free between them. */
const PAGE = 1000
/** Topics looked at in all, for a user who may read few of very many. */
const SCANNED = 20_000

// Topics the user may read, by name: those most recently published to (up to LISTED, looking at
// the SCANNED most recent), plus every one they subscribed to. A table of tens of thousands of
// topics was read whole and filtered in one go for every request, holding the server seconds.
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const db = useDb()
  const [permissions, subscriptions] = await Promise.all([
    effectivePermissions(user.id),
    db.subscription.findMany({ where: { userId: user.id }, select: { topic: true, push: true } }),
  ])
  const subscribed = new Map(subscriptions.map(s => [s.topic, s.push]))
  const listed = new Map<string, { name: string, messageCount: number, lastMessageAt: Date | null }>()
  let cursor: string | undefined
  for (let scanned = 0; listed.size < LISTED && scanned < SCANNED; scanned += PAGE) {
    const page = await db.topic.findMany({
      select: { name: true, messageCount: true, lastMessageAt: true },
      orderBy: [{ lastMessageAt: { sort: 'desc', nulls: 'last' } }, { name: 'asc' }],
      take: PAGE,
      ...(cursor ? { cursor: { name: cursor }, skip: 1 } : {}),
    })
    for (const topic of page) {
      if (listed.size < LISTED && canRead(permissions, topic.name)) listed.set(topic.name, topic)
    }
    if (page.length < PAGE) break
    cursor = page.at(-1)!.name
  }
  for (const topic of subscribed.keys()) {
    if (!listed.has(topic) && canRead(permissions, topic)) {
      listed.set(topic, (await db.topic.findUnique({ where: { name: topic }, select: { name: true, messageCount: true, lastMessageAt: true } })) ?? { name: topic, messageCount: 0, lastMessageAt: null })
    }
  }
  return [...listed.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(t => ({ ...t, subscribed: subscribed.has(t.name), push: subscribed.get(t.name) ?? false }))
})
