import { batchLoader } from '../../utils/batch'
import { mercuryConfig } from '../../utils/config'
import { queryRaw } from '../../utils/db'
import { canRead, effectivePermissions } from '../permissions'
import { sendPush, type PushOutcome, type PushTarget, type SendOptions } from '../push/send'
import { vapidKeys } from '../push/vapid'
import { useQueues } from '../queue'
import type { PushJob, ResultJob } from './jobs'

const MAX_RETRY_DELAY_MS = 5 * 60_000

/**
 * Priority 1-5 → the push message's Urgency and TTL (urgent ones are useless a day later). The TTL
 * counts from the notification's publication: a retry or a push that waited carries what is left.
 */
export function priorityDelivery(priority: number): Pick<SendOptions, 'urgency' | 'ttlSeconds'> {
  if (priority >= 5) return { urgency: 'high', ttlSeconds: 60 * 60 }
  if (priority === 4) return { urgency: 'high', ttlSeconds: 6 * 60 * 60 }
  if (priority === 3) return { urgency: 'normal', ttlSeconds: 24 * 60 * 60 }
  if (priority === 2) return { urgency: 'low', ttlSeconds: 3 * 24 * 60 * 60 }
  return { urgency: 'very-low', ttlSeconds: 7 * 24 * 60 * 60 }
}

/** Exponential backoff with full jitter: base·2^(n-1), times a random factor in [0.5, 1.5). */
export function backoffMs(attempt: number, baseMs: number): number {
  const exponential = baseMs * 2 ** (attempt - 1)
  return Math.min(MAX_RETRY_DELAY_MS, Math.round(exponential * (0.5 + Math.random())))
}

/** The shortest wait backoffMs gives after `attempt`. */
function shortestBackoffMs(attempt: number, baseMs: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, Math.round(baseMs * 2 ** (attempt - 1) * 0.5))
}

/**
 * Sends one push and decides what follows: 2xx sent; 404/410 expired (the device is disabled);
 * 429 retried after Retry-After; 5xx, timeouts and network errors retried with backoff until the
 * last attempt, then failed; any other 4xx failed at once. Every attempt's outcome is recorded.
 */
export async function runPush(job: PushJob): Promise<void> {
  const config = mercuryConfig()
  // The device as it is now, not as it was when the push was queued: a device removed since
  // (deleted, logged out, or its endpoint now another user's device) gets nothing, and its
  // deliveries went with it; one disabled since (its push service said 404/410) gets no more.
  // A first try that starts within FRESH_MS of the fanout's read of the device uses that read,
  // like a push already in flight: reading the row again then cost a tenth of a push's CPU.
  const device = isFresh(job) ? deviceOf(job) : await currentDevice(job.deviceId)
  if (!device) return
  const queues = useQueues()
  if (device.disabled) {
    await queues.result.add([{ data: result(job, 'expired', { statusCode: null, retryAfterMs: null, error: 'not sent: the device was disabled (its push subscription expired)' }) }])
    return
  }
  // A retry (or a try re-queued at a restart) may come minutes after the fanout chose its
  // recipients: one who unsubscribed, turned push off or lost read access meanwhile gets nothing.
  if (job.attempt > 1 || job.readAt === undefined) {
    const recipient = await recipientOf(job.deliveryId)
    if (!recipient) return // the delivery went with its notification, device or user
    const withdrawn = await withdrawnBecause(recipient)
    if (withdrawn) {
      await queues.result.add([{ data: result(job, 'failed', { statusCode: null, retryAfterMs: null, error: `not sent: ${withdrawn}` }) }])
      return
    }
  }
  const { ttlSeconds, urgency } = priorityDelivery(job.priority)
  const expiresAt = job.expiresAt ?? Date.now() + ttlSeconds * 1000
  const leftSeconds = Math.floor((expiresAt - Date.now()) / 1000)
  if (leftSeconds <= 0) {
    await queues.result.add([{ data: result(job, 'failed', { statusCode: null, retryAfterMs: null, error: `not sent: out of date (its TTL of ${ttlSeconds} s since it was published has passed)` }) }])
    return
  }
  const outcome = await sendPush(device, job.payload, {
    vapid: await vapidKeys(),
    timeoutMs: config.pushTimeoutMs,
    allowInsecure: config.pushAllowInsecure,
    ttlSeconds: leftSeconds,
    urgency,
  })
  const code = outcome.statusCode
  let status: ResultJob['status']
  let retryInMs: number | null = null
  if (code !== null && code >= 200 && code < 300) status = 'sent'
  else if (code === 404 || code === 410) status = 'expired'
  else if (code === null || code === 429 || code >= 500) {
    retryInMs = job.attempt < config.pushMaxAttempts ? retryDelay(job.attempt, outcome, config.pushRetryBaseMs) : null
    // A push service that asks for a pause longer than the push has left to live (its TTL since
    // publication) is not asked again: the notification would be out of date by then.
    if (retryInMs !== null && Date.now() + retryInMs >= expiresAt) {
      const next = outcome.retryAfterMs === retryInMs ? 'asked to retry in' : 'next try in'
      outcome.error = `${outcome.error ?? `HTTP ${code}`} (${next} ${Math.round(retryInMs / 1000)} s, after the push's TTL of ${ttlSeconds} s since it was published ends)`
      retryInMs = null
    }
    status = retryInMs === null ? 'failed' : 'queued'
  }
  else status = 'failed'

  const outcomeJob = result(job, status, outcome)
  if (retryInMs !== null) {
    const next = job.attempt + 1
    await queues.push.add([{ data: { ...job, attempt: next, expiresAt }, delayMs: retryInMs, id: `${job.deliveryId}-${next}` }])
    outcomeJob.retryAt = new Date(Date.now() + retryInMs).toISOString()
  }
  await queues.result.add([{ data: outcomeJob }])
}

/** The push service a push goes to: its endpoint's origin. */
export function pushServiceOf(job: PushJob): string {
  try {
    return new URL(job.endpoint).origin
  }
  catch {
    return job.endpoint
  }
}

/**
 * Retry-After when a 429 or 503 gives one, else exponential backoff. A Retry-After shorter than the
 * backoff's shortest wait (0, or a date past) gets that wait: a push service answering
 * "Retry-After: 0" every time would otherwise use up every try within milliseconds.
 */
export function retryDelay(attempt: number, outcome: PushOutcome, baseMs: number): number {
  const code = outcome.statusCode
  if ((code !== 429 && code !== 503) || outcome.retryAfterMs === null) return backoffMs(attempt, baseMs)
  return Math.max(outcome.retryAfterMs, shortestBackoffMs(attempt, baseMs))
}

function result(job: PushJob, status: ResultJob['status'], outcome: PushOutcome): ResultJob {
  return {
    deliveryId: job.deliveryId, deviceId: job.deviceId, attempt: job.attempt, status,
    statusCode: outcome.statusCode, error: outcome.error, at: new Date().toISOString(),
  }
}

interface CurrentDevice extends PushTarget { id: string, disabled: number }

/** How long the fanout's read of a device stands in for a new one, for the first try only. */
export const FRESH_MS = 1000

function isFresh(job: PushJob): boolean {
  if (job.attempt !== 1 || job.readAt === undefined) return false
  const age = Date.now() - job.readAt
  // A negative age (another host's clock ahead of ours) proves nothing: read again.
  return age >= 0 && age < FRESH_MS
}

function deviceOf(job: PushJob): CurrentDevice {
  return { id: job.deviceId, endpoint: job.endpoint, p256dh: job.p256dh, auth: job.auth, disabled: 0 }
}

interface Recipient { topic: string, userId: string, push: number | null }

/** Who a delivery is for, as things stand: the retries that start in one turn, read with one statement. */
const recipientOf = batchLoader<string, Recipient | null>(async (ids) => {
  const rows = await queryRaw<Recipient & { id: string }>(sql =>
    `SELECT dl."id", n."topic", dv."userId", CASE WHEN s."push" IS NULL THEN NULL WHEN s."push" = true THEN 1 ELSE 0 END AS "push" `
    + `FROM "Delivery" dl JOIN "Notification" n ON n."id" = dl."notificationId" JOIN "Device" dv ON dv."id" = dl."deviceId" `
    + `LEFT JOIN "Subscription" s ON s."userId" = dv."userId" AND s."topic" = n."topic" WHERE dl."id" IN ${sql.list(ids)}`)
  return new Map(rows.map(({ id, ...row }) => [id, row]))
}, null)

/** Why the push is no longer wanted, or null: the fanout's choice of recipients, made again. */
async function withdrawnBecause({ topic, userId, push }: Recipient): Promise<string | null> {
  if (push === null) return `its user unsubscribed from ${topic}`
  if (Number(push) === 0) return `its user turned push off for ${topic}`
  if (!canRead(await effectivePermissions(userId), topic)) return `its user may no longer read ${topic}`
  return null
}

/** The devices of the pushes that start in one turn, read with one statement. */
const currentDevice = batchLoader<string, CurrentDevice | null>(async (ids) => {
  const rows = await queryRaw<CurrentDevice>(sql =>
    `SELECT "id", "endpoint", "p256dh", "auth", CASE WHEN "disabledAt" IS NULL THEN 0 ELSE 1 END AS "disabled" FROM "Device" WHERE "id" IN ${sql.list(ids)}`)
  return new Map(rows.map(row => [row.id, row]))
}, null)
