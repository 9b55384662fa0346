import { randomUUID } from 'node:crypto'
import { batchLoader, batchWriter } from '../../utils/batch'
import { executeRaw, queryRaw, useDb } from '../../utils/db'
import { pushPayloads, type PushNotification } from '../push/payload'
import { useQueues } from '../queue'
import { priorityDelivery } from './push'
import type { FanoutJob, PushJob } from './jobs'

const BATCH = 500
// Notifications whose devices are read together: each may bring thousands of rows.
const DEVICE_READ_BATCH = 32

/**
 * Finds the devices of users subscribed to the topic with push on and allowed to read it, records
 * a queued Delivery for each, and queues the pushes in batches. Safe to run twice for the same
 * notification (after a crash): deliveries and push jobs are keyed by notification and device.
 */
export async function runFanout({ notificationId }: FanoutJob): Promise<void> {
  const db = useDb()
  const notification = await unfannedNotification(notificationId)
  if (!notification) return
  const devices = await pushDevices(notificationId)
  const readAt = Date.now()
  const payloadFor = pushPayloads(notification)
  const expiresAt = notification.createdAt.getTime() + priorityDelivery(notification.priority).ttlSeconds * 1000
  const queues = useQueues()
  for (let start = 0; start < devices.length; start += BATCH) {
    const batch = devices.slice(start, start + BATCH)
    const byDevice = new Map((await insertDeliveries(notificationId, batch.map(d => d.id))).map(d => [d.deviceId, d]))
    // Rows that were there already (this fanout ran before a crash): push only those still queued.
    const known = batch.filter(d => !byDevice.has(d.id))
    if (known.length > 0) {
      const existing = await db.delivery.findMany({
        where: { notificationId, deviceId: { in: known.map(d => d.id) } },
        select: { id: true, deviceId: true, status: true },
      })
      for (const d of existing) byDevice.set(d.deviceId, d)
    }
    const jobs = batch.flatMap((device) => {
      const delivery = byDevice.get(device.id)
      if (!delivery || delivery.status !== 'queued') return []
      const data: PushJob = {
        deliveryId: delivery.id, deviceId: device.id, endpoint: device.endpoint, p256dh: device.p256dh, auth: device.auth,
        payload: payloadFor(device.userId), priority: notification.priority, attempt: 1, readAt, expiresAt,
      }
      return [{ data, id: `${delivery.id}-1` }]
    })
    await queues.push.add(jobs)
  }
  await fannedOut(notificationId)
}

/** The notifications fanned out in one turn of the event loop, marked with one statement. */
const fannedOut = batchWriter<string>(async (ids) => {
  await executeRaw(sql => `UPDATE "Notification" SET "fannedOutAt" = ${sql.timestamp(new Date())} WHERE "id" IN ${sql.list(ids)}`)
})

/**
 * The notification, unless it is gone or was fanned out already. The fanouts that start in one
 * turn read theirs with one statement (`batchLoader`).
 */
const unfannedNotification = batchLoader<string, PushNotification | null>(async (ids) => {
  const rows = await queryRaw<PushNotification>(sql =>
    `SELECT "id", "topic", "title", "body", "url", "priority", "createdAt" FROM "Notification" WHERE "id" IN ${sql.list(ids)} AND "fannedOutAt" IS NULL`)
  return new Map(rows.map(row => [row.id, row]))
}, null)

interface PushDevice { id: string, userId: string, endpoint: string, p256dh: string, auth: string }

/**
 * The enabled devices of the users subscribed to the notification's topic with push on who have
 * it in their inbox: the ones allowed to read the topic when it was published (storeNotification
 * checked their permissions then). One statement for the fanouts of one turn.
 */
const pushDevices = batchLoader<string, PushDevice[]>(async (notificationIds) => {
  const rows = await queryRaw<PushDevice & { notificationId: string }>(sql =>
    `SELECT i."notificationId", d."id", d."userId", d."endpoint", d."p256dh", d."auth" FROM "InboxItem" i `
    + `JOIN "Notification" n ON n."id" = i."notificationId" `
    + `JOIN "Subscription" s ON s."userId" = i."userId" AND s."topic" = n."topic" AND s."push" = true `
    + `JOIN "Device" d ON d."userId" = i."userId" AND d."disabledAt" IS NULL `
    + `WHERE i."notificationId" IN ${sql.list(notificationIds)}`)
  const devices = new Map<string, PushDevice[]>()
  for (const { notificationId, ...device } of rows) {
    const list = devices.get(notificationId)
    if (list) list.push(device)
    else devices.set(notificationId, [device])
  }
  return devices
}, [], DEVICE_READ_BATCH)

/**
 * One INSERT for a batch of queued deliveries (Prisma's createMany compiles every row: about
 * 0.2 ms each, the largest cost of a fanout; see `rawStatement`). A row that another run of the
 * same fanout inserted before is left as it is (ON CONFLICT DO NOTHING): only the rows inserted
 * here come back. ("WHERE true": SQLite needs it to read ON CONFLICT after INSERT … SELECT.)
 */
function insertDeliveries(notificationId: string, deviceIds: string[]) {
  return queryRaw<{ id: string, deviceId: string, status: string }>((sql) => {
    const batch = sql.records(deviceIds.map(deviceId => ({ id: randomUUID(), deviceId })), { id: 'text', deviceId: 'text' })
    const now = sql.timestamp(new Date())
    return `INSERT INTO "Delivery" ("id", "notificationId", "deviceId", "status", "attempts", "log", "createdAt", "updatedAt") `
      + `SELECT ${batch.column('id')}, ${sql.param(notificationId)}, ${batch.column('deviceId')}, 'queued', 0, '[]', ${now}, ${now} FROM ${batch.from} WHERE true `
      + `ON CONFLICT ("notificationId", "deviceId") DO NOTHING RETURNING "id", "deviceId", "status"`
  })
}
