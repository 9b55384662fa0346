import http from 'node:http'
import https from 'node:https'
import webpush from 'web-push'
import { guardedLookup } from './endpoint-guard'
import type { VapidKeys } from './vapid'

export interface PushTarget {
  endpoint: string
  p256dh: string
  auth: string
}

/** What the push service said: an HTTP status, or no status when the request itself failed. */
export interface PushOutcome {
  statusCode: number | null
  /** From Retry-After, for 429 and 503. */
  retryAfterMs: number | null
  error: string | null
}

export interface SendOptions {
  vapid: VapidKeys
  ttlSeconds: number
  urgency: 'very-low' | 'low' | 'normal' | 'high'
  timeoutMs: number
  /** Tests only: allows http and internal addresses. */
  allowInsecure: boolean
}

// Keep-alive agents: a push service is one host per browser vendor, so connections are reused.
const agents = {
  guarded: new https.Agent({ keepAlive: true, maxSockets: 256, lookup: guardedLookup as never }),
  insecure: new https.Agent({ keepAlive: true, maxSockets: 256 }),
  plain: new http.Agent({ keepAlive: true, maxSockets: 256 }),
}

/**
 * Encrypts (aes128gcm) and signs (VAPID) with web-push, then sends the request itself, so that a
 * push service that hangs, closes the connection or answers garbage becomes an outcome, never an
 * exception or a stuck job.
 */
export function sendPush(target: PushTarget, payload: string, options: SendOptions): Promise<PushOutcome> {
  let details: ReturnType<typeof webpush.generateRequestDetails>
  try {
    details = webpush.generateRequestDetails({ endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } }, payload, {
      vapidDetails: { subject: options.vapid.subject, publicKey: options.vapid.publicKey, privateKey: options.vapid.privateKey },
      TTL: options.ttlSeconds,
      urgency: options.urgency,
      contentEncoding: 'aes128gcm',
    })
  }
  catch (error) {
    // A key that cannot be used: retrying will not help.
    return Promise.resolve({ statusCode: 400, retryAfterMs: null, error: `cannot encrypt for this device: ${(error as Error).message}` })
  }
  const url = new URL(details.endpoint)
  const secure = url.protocol === 'https:'
  const agent = !secure ? agents.plain : options.allowInsecure ? agents.insecure : agents.guarded
  return new Promise((resolve) => {
    let settled = false
    const done = (outcome: PushOutcome) => {
      if (settled) return
      settled = true
      resolve(outcome)
    }
    const request = (secure ? https : http).request(url, {
      method: details.method,
      headers: details.headers as http.OutgoingHttpHeaders,
      agent,
      timeout: options.timeoutMs,
    }, (response) => {
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        // The body only matters for the error message: keep the start of it.
        if (size < 1024) chunks.push(chunk)
        size += chunk.length
      })
      response.on('end', () => {
        const statusCode = response.statusCode ?? 0
        const body = Buffer.concat(chunks).toString('utf8').slice(0, 500)
        done({
          statusCode,
          retryAfterMs: parseRetryAfter(response.headers['retry-after']),
          error: statusCode >= 200 && statusCode < 300 ? null : body || response.statusMessage || null,
        })
      })
      response.on('error', error => done({ statusCode: null, retryAfterMs: null, error: error.message }))
    })
    request.on('timeout', () => {
      request.destroy(new Error(`no answer in ${options.timeoutMs} ms`))
    })
    request.on('error', error => done({ statusCode: null, retryAfterMs: null, error: error.message }))
    request.end(details.body)
  })
}

/** Retry-After as seconds or an HTTP date, in ms; null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined): number | null {
  const raw = Array.isArray(value) ? value[0] : value
  if (!raw) return null
  if (/^\d+$/.test(raw.trim())) return Number(raw) * 1000
  const date = Date.parse(raw)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}
