import { mercuryConfig } from '../../utils/config'
import { useDb } from '../../utils/db'
import { revokeLapsedLogins } from '../accounts'
import { startupReady } from '../bootstrap'
import { onNotification } from '../notifications'
import { configurePushEncryption, stopPushEncryption } from '../push/encrypt'
import { pushPayload } from '../push/payload'
import { useQueues } from '../queue'
import { runFanout } from './fanout'
import { priorityDelivery, pushServiceOf, runPush } from './push'
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
  const { pushConcurrency, pushServiceConcurrency, pushThreads } = mercuryConfig()
  configurePushEncryption(pushThreads)
  const queues = useQueues()
  // Fanouts that run together share their reads (see fanout.ts): a burst is read in batches.
  queues.fanout.process(runFanout, 32)
  // Per push service, so that one that hangs holds up no push to the others.
  queues.push.process(runPush, pushConcurrency, { of: pushServiceOf, perGroup: pushServiceConcurrency })
  // Each waiting result job holds a slot until its batch is written: allow a whole batch.
  queues.result.process(runResult, 256)
  // Not before the database is known to be migrated: on one that is not, start-up stops with a
  // line saying so, which a failed sweep's "table does not exist" would come before.
  void startupReady().then(() => sweep(true), () => {})
  const timer = setInterval(() => void sweep(false), SWEEP_EVERY_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/**
 * Re-queues what a crash or a queue outage left behind: notifications never fanned out and, with
 * the in-process queue (lost with the process), deliveries still queued. Then deletes what has
 * outlived its time: old notifications, and logins unused for MERCURY_SESSION_DAYS.
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
    if (atStart && !mercuryConfig().redisUrl) await requeueDeliveries()
    await deleteExpiredNotifications()
    await revokeLapsedLogins()
  }
  catch (error) {
    console.warn('mercury: the workers\' sweep failed:', (error as Error).message)
  }
}

const REQUEUE_PAGE = 1000
/** Ids bound one by one: within SQLite's 999 bound values. */
const RETENTION_PAGE = 500

/**
 * Notifications older than MERCURY_RETENTION_DAYS go, with their inbox rows and deliveries
 * (cascade), a few hundred per statement so that no write holds the database long. Every process
 * with workers runs it; deleting what another already deleted is harmless.
 */
export async function deleteExpiredNotifications(): Promise<number> {
  const days = mercuryConfig().retentionDays
  if (days === 0) return 0
  const cutoff = new Date(Date.now() - days * 24 * 60 * 60_000)
  let deleted = 0
  for (;;) {
    const old = await useDb().notification.findMany({ where: { createdAt: { lt: cutoff } }, select: { id: true }, take: RETENTION_PAGE })
    if (old.length === 0) return deleted
    deleted += (await useDb().notification.deleteMany({ where: { id: { in: old.map(n => n.id) } } })).count
    // SQLite runs on the event loop: let the requests and sockets waiting meanwhile go between pages.
    await new Promise(resolve => setImmediate(resolve))
  }
}

/**
 * The in-process queue is lost with its process: the deliveries still queued are queued again,
 * all of them (those of a device disabled meanwhile too, to be ended), each as its last try left it: the next try when it is due (the push service's
 * Retry-After, or the backoff), with what is left of its TTL since publication.
 */
async function requeueDeliveries() {
  let cursor: string | undefined
  for (;;) {
    const queued = await useDb().delivery.findMany({
      where: { status: 'queued', notification: { fannedOutAt: { not: null } } },
      include: { device: true, notification: true },
      orderBy: { id: 'asc' },
      take: REQUEUE_PAGE,
      ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
    })
    const now = Date.now()
    await useQueues().push.add(queued.map(d => ({
      data: {
        deliveryId: d.id, deviceId: d.deviceId, endpoint: d.device.endpoint, p256dh: d.device.p256dh, auth: d.device.auth,
        payload: pushPayload(d.notification, d.device.userId), priority: d.notification.priority, attempt: d.attempts + 1,
        expiresAt: d.notification.createdAt.getTime() + priorityDelivery(d.notification.priority).ttlSeconds * 1000,
      },
      // A device disabled meanwhile: its push ends at once (expired), without waiting for its try.
      delayMs: d.device.disabledAt ? 0 : Math.max(0, dueAt(d.log) - now),
      id: `${d.id}-${d.attempts + 1}`,
    })))
    if (queued.length < REQUEUE_PAGE) return
    cursor = queued.at(-1)!.id
  }
}

/** When the last try said the next one is due (ms since the epoch); 0: now. */
function dueAt(log: string): number {
  try {
    const retryAt = (JSON.parse(log) as { retryAt?: string }[]).at(-1)?.retryAt
    return retryAt ? Date.parse(retryAt) || 0 : 0
  }
  catch {
    return 0
  }
}

export { flushResults, stopPushEncryption }
