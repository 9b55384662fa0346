import { useDb } from '../../utils/db'
import { readersOf } from '../notifications'
import { useQueues } from '../queue'
import type { FanoutJob, PushJob } from './jobs'

const BATCH = 500
// Push services accept 4,096 bytes of payload; encryption adds about 100.
const MAX_PAYLOAD_BYTES = 3800

/**
 * Finds the devices of users subscribed to the topic with push on and allowed to read it, records
 * a queued Delivery for each, and queues the pushes in batches. Safe to run twice for the same
 * notification (after a crash): deliveries and push jobs are keyed by notification and device.
 */
export async function runFanout({ notificationId }: FanoutJob): Promise<void> {
  const db = useDb()
  const notification = await db.notification.findUnique({ where: { id: notificationId } })
  if (!notification || notification.fannedOutAt) return
  const subscribers = await db.subscription.findMany({ where: { topic: notification.topic, push: true }, select: { userId: true } })
  const readers = [...await readersOf(notification.topic, subscribers.map(s => s.userId))]
  const devices = readers.length === 0
    ? []
    : await db.device.findMany({ where: { userId: { in: readers }, disabledAt: null }, select: { id: true, endpoint: true, p256dh: true, auth: true } })
  const payload = pushPayload(notification)
  const queues = useQueues()
  for (let start = 0; start < devices.length; start += BATCH) {
    const batch = devices.slice(start, start + BATCH)
    const existing = await db.delivery.findMany({
      where: { notificationId, deviceId: { in: batch.map(d => d.id) } },
      select: { id: true, deviceId: true, status: true },
    })
    const byDevice = new Map(existing.map(d => [d.deviceId, d]))
    const missing = batch.filter(d => !byDevice.has(d.id))
    if (missing.length > 0) {
      await db.delivery.createMany({ data: missing.map(d => ({ notificationId, deviceId: d.id })) })
      const created = await db.delivery.findMany({
        where: { notificationId, deviceId: { in: missing.map(d => d.id) } },
        select: { id: true, deviceId: true, status: true },
      })
      for (const d of created) byDevice.set(d.deviceId, d)
    }
    const jobs = batch.flatMap((device) => {
      const delivery = byDevice.get(device.id)!
      if (delivery.status !== 'queued') return []
      const data: PushJob = {
        deliveryId: delivery.id, deviceId: device.id, endpoint: device.endpoint, p256dh: device.p256dh, auth: device.auth,
        payload, priority: notification.priority, attempt: 1,
      }
      return [{ data, id: `${delivery.id}-1` }]
    })
    await queues.push.add(jobs)
  }
  await db.notification.update({ where: { id: notificationId }, data: { fannedOutAt: new Date() } })
}

/** `{id, topic, title, body, url, priority, createdAt}`, the body shortened to fit a push. */
export function pushPayload(n: { id: string, topic: string, title: string, body: string, url: string | null, priority: number, createdAt: Date }): string {
  const payload = { id: n.id, topic: n.topic, title: n.title, body: n.body, url: n.url, priority: n.priority, createdAt: n.createdAt.toISOString() }
  let json = JSON.stringify(payload)
  while (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES && payload.body.length > 0) {
    const over = Buffer.byteLength(json) - MAX_PAYLOAD_BYTES
    payload.body = `${payload.body.slice(0, Math.max(0, payload.body.length - over - 1))}…`
    if (over > 0 && payload.body === '…') payload.body = ''
    json = JSON.stringify(payload)
  }
  return json
}
