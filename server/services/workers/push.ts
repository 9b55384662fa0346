import { mercuryConfig } from '../../utils/config'
import { sendPush, type SendOptions } from '../push/send'
import { vapidKeys } from '../push/vapid'
import { useQueues } from '../queue'
import type { PushJob, ResultJob } from './jobs'

const MAX_RETRY_DELAY_MS = 5 * 60_000

/** Priority 1-5 → the push message's Urgency and TTL (urgent ones are useless a day later). */
function delivery(priority: number): Pick<SendOptions, 'urgency' | 'ttlSeconds'> {
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

/**
 * Sends one push and decides what follows: 2xx sent; 404/410 expired (the device is disabled);
 * 429 retried after Retry-After; 5xx, timeouts and network errors retried with backoff until the
 * last attempt, then failed; any other 4xx failed at once. Every attempt's outcome is recorded.
 */
export async function runPush(job: PushJob): Promise<void> {
  const config = mercuryConfig()
  const outcome = await sendPush(job, job.payload, {
    vapid: await vapidKeys(),
    timeoutMs: config.pushTimeoutMs,
    allowInsecure: config.pushAllowInsecure,
    ...delivery(job.priority),
  })
  const code = outcome.statusCode
  let status: ResultJob['status']
  let retryInMs: number | null = null
  if (code !== null && code >= 200 && code < 300) status = 'sent'
  else if (code === 404 || code === 410) status = 'expired'
  else if (code === null || code === 429 || code >= 500) {
    const canRetry = job.attempt < config.pushMaxAttempts
    status = canRetry ? 'queued' : 'failed'
    if (canRetry) retryInMs = code === 429 || code === 503 ? outcome.retryAfterMs ?? backoffMs(job.attempt, config.pushRetryBaseMs) : backoffMs(job.attempt, config.pushRetryBaseMs)
  }
  else status = 'failed'

  const queues = useQueues()
  if (retryInMs !== null) {
    const next = job.attempt + 1
    await queues.push.add([{ data: { ...job, attempt: next }, delayMs: retryInMs, id: `${job.deliveryId}-${next}` }])
  }
  await queues.result.add([{
    data: {
      deliveryId: job.deliveryId, deviceId: job.deviceId, attempt: job.attempt, status,
      statusCode: code, error: outcome.error, at: new Date().toISOString(),
    },
  }])
}
