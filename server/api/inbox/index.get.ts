import { inboxQuerySchema } from '#shared/schemas/messages'
import { fold } from '#shared/inbox/logic'
import { toInboxEntry } from '../../services/notifications'

/** What the database cannot be asked for as typed (see `pieces`). */
const LOOSE = /[%_\\ikIK]+|[^\x20-\x7e]+/

/**
 * A notification is stored (with its inbox rows) before it takes its offset, and gets it a moment
 * later: until then it is left out, so that no client sees an item with offset 0 that has not
 * reached /channel or the history yet. One whose offset could not be written shows after a while.
 */
function published() {
  return { OR: [{ offset: { gt: 0 } }, { createdAt: { lt: new Date(Date.now() - 30_000) } }] }
}

// The user's notifications, newest first. Page with ?before=<nextBefore>&beforeId=<nextBeforeId>
// (utils/paging.ts).
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { before, beforeId, limit, q: typed, topic, unread } = parseQuery(event, inboxQuerySchema)
  // Composed (NFC), as the text is compared below: "é" typed finds an "e" and a combining accent.
  const q = typed?.normalize('NFC')
  // SQLite's LIKE ignores case for ASCII; PostgreSQL needs to be told.
  const mode = isPostgresUrl(mercuryConfig().databaseUrl) ? { mode: 'insensitive' } : {}
  const contains = (text: string) => ({ contains: text, ...mode }) as { contains: string }
  // `q` is matched as typed, ignoring case. LIKE (what Prisma's `contains` becomes) reads % and _ as
  // wildcards and Prisma does not escape them (SQLite's LIKE has no escape character anyway; on
  // PostgreSQL a backslash escapes the next character), and ignores the case of ASCII letters only
  // (SQLite; PostgreSQL's ILIKE in a "C" locale too), so an ASCII "i" or "k" must also find "İ" or
  // the Kelvin sign: the database is asked for the pieces between all these, and the rows are
  // checked for the whole text here, as the app does (the same `fold`, on both databases). Such a
  // page may hold fewer than `limit` items; paging goes on from the last row read.
  const pieces = q ? q.split(LOOSE).filter(piece => piece.trim()) : []
  const rows = await useDb().inboxItem.findMany({
    where: {
      userId: user.id,
      ...olderThan(before, beforeId),
      readAt: unread ? null : undefined,
      notification: {
        ...published(),
        topic,
        ...(pieces.length ? { AND: pieces.map(piece => ({ OR: [{ title: contains(piece) }, { body: contains(piece) }] })) } : {}),
      },
    },
    include: { notification: true },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit,
  })
  const wanted = q && LOOSE.test(q) ? fold(q) : null
  const items = rows.map(toInboxEntry)
    .filter(item => !wanted || fold(item.title).includes(wanted) || fold(item.body).includes(wanted))
  const unreadCount = await useDb().inboxItem.count({ where: { userId: user.id, readAt: null, notification: published() } })
  const lastRow = rows.length === limit ? rows[rows.length - 1]! : null
  return { items, unread: unreadCount, nextBefore: lastRow?.createdAt.toISOString() ?? null, nextBeforeId: lastRow?.id ?? null }
})
