import { timeOrderedId } from '../utils/ids'
import type { NotificationInput } from '#shared/schemas/messages'
import { topicMatches } from '#shared/utils/topics'
import { batchLoader, batchWriter } from '../utils/batch'
import { executeRaw, queryRaw, useDb } from '../utils/db'

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
 * The users subscribed to each topic who may read it (admins, own grants, group grants). One
 * statement for all the topics of notifications published in the same turn (see `batchLoader`,
 * `rawStatement`): Prisma would read subscriptions, users, grants, groups and memberships apart,
 * for each notification.
 */
const subscribedReaders = batchLoader<string, string[]>(async (topics) => {
  const readers = new Map<string, Set<string>>(topics.map(topic => [topic, new Set()]))
  // topic NULL: an admin, who reads everything.
  const rows = await queryRaw<{ subscribed: string, userId: string, topic: string | null }>((sql) => {
    const wanted = sql.list(topics)
    return `SELECT s."topic" AS "subscribed", u."id" AS "userId", NULL AS "topic" FROM "Subscription" s JOIN "User" u ON u."id" = s."userId" WHERE u."role" = 'admin' AND s."topic" IN ${wanted} `
      + `UNION ALL SELECT s."topic", g."userId", g."topic" FROM "Subscription" s JOIN "Grant" g ON g."userId" = s."userId" WHERE g."read" = true AND s."topic" IN ${wanted} `
      + `UNION ALL SELECT s."topic", m."userId", g."topic" FROM "Subscription" s JOIN "Membership" m ON m."userId" = s."userId" JOIN "Grant" g ON g."groupId" = m."groupId" WHERE g."read" = true AND s."topic" IN ${wanted}`
  })
  for (const row of rows) {
    if (row.topic === null || topicMatches(row.topic, row.subscribed)) readers.get(row.subscribed)?.add(row.userId)
  }
  return new Map([...readers].map(([topic, users]) => [topic, [...users]]))
}, [])

/**
 * Stores the notification and puts it in the inbox of every subscriber who may read the topic,
 * before the message goes out: a database that cannot take it refuses the publish cleanly.
 * The offset is filled in by notificationPublished() once the stream has assigned it.
 */
export async function storeNotification(n: NewNotification): Promise<string[]> {
  // A copy: notifications of the same topic in one batch share the loader's array.
  const readers = [...await subscribedReaders(n.topic)]
  await storeBatch({ n, readers })
  return readers
}

/**
 * The notifications stored in one turn of the event loop, with their inbox rows: one transaction
 * of two raw statements (each batch one JSON parameter, see `rawStatement`). SQLite writes every
 * page a commit touched (the tables and their indexes) to its log: committing a burst together
 * writes each page once instead of once per notification.
 */
const storeBatch = batchWriter<{ n: NewNotification, readers: string[] }>(async (items) => {
  try {
    await storeNotifications(items)
  }
  catch (error) {
    // PostgreSQL: a reader deleted by a transaction that commits while this one runs passes the
    // EXISTS below and then fails the foreign key. Once more: that reader is gone for good.
    if (!/foreign key/i.test((error as Error).message ?? '')) throw error
    await storeNotifications(items)
  }
})

async function storeNotifications(items: { n: NewNotification, readers: string[] }[]): Promise<void> {
  const columns = ['id', 'topic', 'offset', 'event', 'title', 'body', 'url', 'priority', 'data', 'sourceId', 'createdAt'] as const
  const writes = [executeRaw((sql) => {
    const rows = sql.records(items.map(({ n }) => ({
      id: n.id, topic: n.topic, offset: n.offset, event: n.event, title: n.notification.title, body: n.notification.body,
      url: n.notification.url ?? null, priority: n.notification.priority, data: n.data === undefined ? null : JSON.stringify(n.data),
      sourceId: n.sourceId, createdAt: new Date(n.createdAt),
    })), { id: 'text', topic: 'text', offset: 'int', event: 'text', title: 'text', body: 'text', url: 'text', priority: 'int', data: 'text', sourceId: 'text', createdAt: 'timestamp' })
    return `INSERT INTO "Notification" (${columns.map(c => `"${c}"`).join(', ')}) SELECT ${columns.map(c => rows.column(c)).join(', ')} FROM ${rows.from}`
  })]
  const inboxRows = items.flatMap(({ n, readers }) => readers.map(userId => ({ id: timeOrderedId(), userId, notificationId: n.id, createdAt: new Date(n.createdAt) })))
  if (inboxRows.length > 0) {
    writes.push(executeRaw((sql) => {
      const rows = sql.records(inboxRows, { id: 'text', userId: 'text', notificationId: 'text', createdAt: 'timestamp' })
      // A reader deleted since the readers were read (an admin deleting a user while the topic is
      // busy) gets no row: the notification still reaches everyone else.
      return `INSERT INTO "InboxItem" ("id", "userId", "notificationId", "createdAt") `
        + `SELECT ${rows.column('id')}, ${rows.column('userId')}, ${rows.column('notificationId')}, ${rows.column('createdAt')} FROM ${rows.from} `
        + `WHERE EXISTS (SELECT 1 FROM "User" WHERE "User"."id" = ${rows.column('userId')})`
    }))
  }
  await useDb().$transaction(writes)
}

/** The offsets assigned in one turn of the event loop, written with one statement. */
const offsetBatch = batchWriter<{ id: string, offset: number }>(async (items) => {
  await executeRaw((sql) => {
    const rows = sql.records(items, { id: 'text', offset: 'int' })
    return `UPDATE "Notification" SET "offset" = ${rows.column('offset')} FROM ${rows.from} WHERE "Notification"."id" = ${rows.column('id')}`
  })
})

/** Records the stream offset and hands the notification to the delivery pipeline. */
export async function notificationPublished(n: NewNotification, readers: string[]): Promise<void> {
  await offsetBatch({ id: n.id, offset: n.offset })
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
