import type { NotificationInput } from '#shared/schemas/messages'
import { topicMatches } from '#shared/utils/topics'
import { rawStatement, useDb } from '../utils/db'

export interface NewNotification {
  id: string
  topic: string
  offset: number
  event: string
  data: unknown
  notification: NotificationInput
  sourceId: string | null
  createdAt: string
}

type NotificationHook = (notification: NewNotification, readers: string[]) => Promise<void> | void
const hooks: NotificationHook[] = []

/** Lets the delivery pipeline hear of each persisted notification. */
export function onNotification(hook: NotificationHook): void {
  hooks.push(hook)
}

/**
 * Of the given users, those allowed to read the topic (admins, own grants, group grants). One
 * statement (see `rawStatement`): Prisma would read users, grants, groups and memberships apart.
 */
export async function readersOf(topic: string, userIds: string[]): Promise<Set<string>> {
  const readers = new Set<string>()
  if (userIds.length === 0) return readers
  const sql = rawStatement()
  const among = sql.list(userIds)
  // topic NULL: an admin, who reads everything.
  const rows = await useDb().$queryRawUnsafe<{ userId: string, topic: string | null }[]>(
    `SELECT u."id" AS "userId", NULL AS "topic" FROM "User" u WHERE u."role" = 'admin' AND u."id" IN ${among} `
    + `UNION ALL SELECT g."userId", g."topic" FROM "Grant" g WHERE g."read" = true AND g."userId" IN ${among} `
    + `UNION ALL SELECT m."userId", g."topic" FROM "Grant" g JOIN "Membership" m ON m."groupId" = g."groupId" WHERE g."read" = true AND m."userId" IN ${among}`,
    ...sql.params,
  )
  for (const row of rows) {
    if (row.topic === null || topicMatches(row.topic, topic)) readers.add(row.userId)
  }
  return readers
}

/**
 * Stores the notification and puts it in the inbox of every subscriber who may read the topic,
 * before the message goes out: a database that cannot take it refuses the publish cleanly.
 * The offset is filled in by notificationPublished() once the stream has assigned it.
 */
export async function storeNotification(n: NewNotification): Promise<string[]> {
  const db = useDb()
  const subscribers = await db.subscription.findMany({ where: { topic: n.topic }, select: { userId: true } })
  const readers = [...await readersOf(n.topic, subscribers.map(s => s.userId))]
  const createdAt = new Date(n.createdAt)
  await db.$transaction([
    db.notification.create({
      data: {
        id: n.id, topic: n.topic, offset: n.offset, event: n.event,
        title: n.notification.title, body: n.notification.body, url: n.notification.url ?? null,
        priority: n.notification.priority, data: n.data === undefined ? null : JSON.stringify(n.data),
        sourceId: n.sourceId, createdAt,
      },
    }),
    db.inboxItem.createMany({ data: readers.map(userId => ({ userId, notificationId: n.id, createdAt })) }),
  ])
  return readers
}

/** Records the stream offset and hands the notification to the delivery pipeline. */
export async function notificationPublished(n: NewNotification, readers: string[]): Promise<void> {
  await useDb().notification.update({ where: { id: n.id }, data: { offset: n.offset } })
  for (const hook of hooks) await hook(n, readers)
}

/** The message never went out: its notification must not stay in anyone's inbox. */
export async function discardNotification(id: string): Promise<void> {
  await useDb().notification.delete({ where: { id } }).catch(() => {})
}

export interface InboxEntry {
  /** The notification's id: the same id as in the `message` frame and the push payload. */
  id: string
  notificationId: string
  itemId: string
  topic: string
  offset: number
  event: string
  title: string
  body: string
  url: string | null
  priority: number
  data: unknown
  createdAt: Date
  readAt: Date | null
}

export function toInboxEntry(row: {
  id: string
  readAt: Date | null
  createdAt: Date
  notification: { id: string, topic: string, offset: number, event: string, title: string, body: string, url: string | null, priority: number, data: string | null }
}): InboxEntry {
  const n = row.notification
  return {
    id: n.id, notificationId: n.id, itemId: row.id, topic: n.topic, offset: n.offset, event: n.event, title: n.title,
    body: n.body, url: n.url, priority: n.priority, data: n.data === null ? null : JSON.parse(n.data),
    createdAt: row.createdAt, readAt: row.readAt,
  }
}
