import { randomUUID } from 'node:crypto'
import type { NotificationInput } from '#shared/schemas/messages'
import { topicMatches } from '#shared/utils/topics'
import { queryRaw, rawStatement, useDb } from '../utils/db'

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
 * The users subscribed to the topic who may read it (admins, own grants, group grants). One
 * statement (see `rawStatement`): Prisma would read subscriptions, users, grants, groups and
 * memberships apart.
 */
async function subscribedReaders(topic: string): Promise<string[]> {
  const readers = new Set<string>()
  // topic NULL: an admin, who reads everything.
  const rows = await queryRaw<{ userId: string, topic: string | null }>((sql) => {
    const subscribers = `(SELECT s."userId" FROM "Subscription" s WHERE s."topic" = ${sql.param(topic)})`
    return `SELECT u."id" AS "userId", NULL AS "topic" FROM "User" u WHERE u."role" = 'admin' AND u."id" IN ${subscribers} `
      + `UNION ALL SELECT g."userId", g."topic" FROM "Grant" g WHERE g."read" = true AND g."userId" IN ${subscribers} `
      + `UNION ALL SELECT m."userId", g."topic" FROM "Grant" g JOIN "Membership" m ON m."groupId" = g."groupId" WHERE g."read" = true AND m."userId" IN ${subscribers}`
  })
  for (const row of rows) {
    if (row.topic === null || topicMatches(row.topic, topic)) readers.add(row.userId)
  }
  return [...readers]
}

/**
 * Stores the notification and puts it in the inbox of every subscriber who may read the topic,
 * before the message goes out: a database that cannot take it refuses the publish cleanly.
 * The offset is filled in by notificationPublished() once the stream has assigned it.
 * Raw statements (one read, two inserts in one transaction, the inbox rows as one JSON
 * parameter): Prisma compiles each statement anew, which cost more than writing them.
 */
export async function storeNotification(n: NewNotification): Promise<string[]> {
  const db = useDb()
  const readers = await subscribedReaders(n.topic)
  const createdAt = new Date(n.createdAt)
  const notification = rawStatement()
  const { param } = notification
  const insertNotification = `INSERT INTO "Notification" ("id", "topic", "offset", "event", "title", "body", "url", "priority", "data", "sourceId", "createdAt") `
    + `VALUES (${param(n.id)}, ${param(n.topic)}, ${param(n.offset)}, ${param(n.event)}, ${param(n.notification.title)}, ${param(n.notification.body)}, `
    + `${param(n.notification.url ?? null)}, ${param(n.notification.priority)}, ${param(n.data === undefined ? null : JSON.stringify(n.data))}, `
    + `${param(n.sourceId)}, ${notification.timestamp(createdAt)})`
  const writes = [db.$executeRawUnsafe(insertNotification, ...notification.params)]
  if (readers.length > 0) {
    const inbox = rawStatement()
    const rows = inbox.records(readers.map(userId => ({ id: randomUUID(), userId })), { id: 'text', userId: 'text' })
    writes.push(db.$executeRawUnsafe(
      `INSERT INTO "InboxItem" ("id", "userId", "notificationId", "createdAt") `
      + `SELECT ${rows.column('id')}, ${rows.column('userId')}, ${inbox.param(n.id)}, ${inbox.timestamp(createdAt)} FROM ${rows.from}`,
      ...inbox.params,
    ))
  }
  await db.$transaction(writes)
  return readers
}

/** Records the stream offset and hands the notification to the delivery pipeline. */
export async function notificationPublished(n: NewNotification, readers: string[]): Promise<void> {
  const sql = rawStatement()
  await useDb().$executeRawUnsafe(`UPDATE "Notification" SET "offset" = ${sql.param(n.offset)} WHERE "id" = ${sql.param(n.id)}`, ...sql.params)
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
