import { mercuryConfig } from '../../utils/config'
import { useDb } from '../../utils/db'
import { onNotification } from '../notifications'
import { configurePushEncryption, stopPushEncryption } from '../push/encrypt'
import { pushPayload } from '../push/payload'
import { useQueues } from '../queue'
import { runFanout } from './fanout'
import { runPush } from './push'
import { flushResults, runResult } from './result'

const SWEEP_EVERY_MS = 60_000
const SWEEP_GRACE_MS = 30_000
const SWEEP_HORIZON_MS = 24 * 60 * 60_000

/** Every persisted notification is handed to the fanout queue (web and all roles). */
export function queueNotificationsForPush(): void {
  onNotification(async ({ id }) => {
    try {
      await useQueues().fanout.add([{ data: { notificationId: id }, id }])
    }
    catch (error) {
      // The sweep picks it up once the queue is back.
      console.warn(`mercury: could not queue notification ${id} for push:`, (error as Error).message)
    }
  })
}

/** Starts the three workers in this process (all and worker roles). */
export function startWorkers(): () => void {
  const { pushConcurrency, pushThreads } = mercuryConfig()
  configurePushEncryption(pushThreads)
  const queues = useQueues()
  // Fanouts that run together share their reads (see fanout.ts): a burst is read in batches.
  queues.fanout.process(runFanout, 32)
  queues.push.process(runPush, pushConcurrency)
  // Each waiting result job holds a slot until its batch is written: allow a whole batch.
  queues.result.process(runResult, 256)
  void sweep(true)
  const timer = setInterval(() => void sweep(false), SWEEP_EVERY_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/**
 * Re-queues what a crash or a queue outage left behind: notifications never fanned out and, with
 * the in-process queue (lost with the process), deliveries still queued.
 */
async function sweep(atStart: boolean) {
  try {
    const db = useDb()
    const now = Date.now()
    const unfanned = await db.notification.findMany({
      where: { fannedOutAt: null, createdAt: { gt: new Date(now - SWEEP_HORIZON_MS), lt: new Date(now - (atStart ? 0 : SWEEP_GRACE_MS)) } },
      select: { id: true },
      take: 1000,
    })
    await useQueues().fanout.add(unfanned.map(n => ({ data: { notificationId: n.id }, id: n.id })))
    if (atStart && !mercuryConfig().redisUrl) {
      const queued = await db.delivery.findMany({
        where: { status: 'queued', notification: { fannedOutAt: { not: null } }, device: { disabledAt: null } },
        include: { device: true, notification: true },
        take: 10_000,
      })
      await useQueues().push.add(queued.map(d => ({
        data: {
          deliveryId: d.id, deviceId: d.deviceId, endpoint: d.device.endpoint, p256dh: d.device.p256dh, auth: d.device.auth,
          payload: pushPayload(d.notification), priority: d.notification.priority, attempt: d.attempts + 1,
        },
        id: `${d.id}-${d.attempts + 1}`,
      })))
    }
  }
  catch (error) {
    console.warn('mercury: delivery sweep failed:', (error as Error).message)
  }
}

export { flushResults, stopPushEncryption }
