import http from 'node:http'
import https from 'node:https'
import webpush from 'web-push'
import { EncryptionThreadError, encryptPush } from './encrypt'
import { endpointProblem, guardedLookup } from './endpoint-guard'
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

// A VAPID JWT is valid for up to 24 hours and names only the push service's origin, so one
// signature serves every push to that service: it is signed once an hour (valid for 12 hours)
// instead of once per push (an ECDSA signature costs about as much as encrypting the payload).
const VAPID_VALID_S = 12 * 60 * 60
const VAPID_RESIGN_MS = 60 * 60_000
const VAPID_CACHE_MAX = 1000
const vapidCache = new Map<string, { authorization: string, signedAt: number }>()

/** The Authorization header for pushes to `audience` (a push service origin), cached. */
export function vapidAuthorization(audience: string, vapid: VapidKeys, now = Date.now()): string {
  const key = `${audience} ${vapid.publicKey} ${vapid.subject}`
  const cached = vapidCache.get(key)
  if (cached && now - cached.signedAt < VAPID_RESIGN_MS) return cached.authorization
  const headers = webpush.getVapidHeaders(audience, vapid.subject, vapid.publicKey, vapid.privateKey, 'aes128gcm', Math.floor(now / 1000) + VAPID_VALID_S)
  const authorization = String(headers.Authorization)
  vapidCache.delete(key)
  // Endpoints come from clients: keep the cache bounded (oldest out first).
  if (vapidCache.size >= VAPID_CACHE_MAX) vapidCache.delete(vapidCache.keys().next().value!)
  vapidCache.set(key, { authorization, signedAt: now })
  return authorization
}

/**
 * Encrypts (aes128gcm, see encryptPush) and signs (VAPID, cached per push service), then sends the
 * request itself, so that a push service that hangs, closes the connection or answers garbage
 * becomes an outcome, never an exception or a stuck job.
 */
export async function sendPush(target: PushTarget, payload: string, options: SendOptions): Promise<PushOutcome> {
  let url: URL
  let body: Buffer
  let headers: http.OutgoingHttpHeaders
  try {
    url = new URL(target.endpoint)
    // Checked again here, before encrypting: an address in the URL itself is never looked up, so
    // guardedLookup (which checks what a name resolves to) does not see it.
    const problem = options.allowInsecure ? null : endpointProblem(url, false)
    if (problem) return { statusCode: 400, retryAfterMs: null, error: `refused: the endpoint ${problem}` }
    body = await encryptPush(target.p256dh, target.auth, payload)
    headers = {
      'TTL': options.ttlSeconds,
      'Urgency': options.urgency,
      'Content-Type': 'application/octet-stream',
      'Content-Encoding': 'aes128gcm',
      'Content-Length': body.length,
    }
  }
  catch (error) {
    // Nothing was sent; a failed encryption thread is worth another attempt.
    if (error instanceof EncryptionThreadError) return { statusCode: null, retryAfterMs: null, error: error.message }
    // A key (or endpoint) that cannot be used: retrying will not help.
    return { statusCode: 400, retryAfterMs: null, error: `cannot encrypt for this device: ${(error as Error).message}` }
  }
  try {
    headers.Authorization = vapidAuthorization(url.origin, options.vapid)
  }
  catch (error) {
    // The server's VAPID keys, not the device (they are checked at start-up; kept for safety).
    return { statusCode: null, retryAfterMs: null, error: `cannot sign the VAPID header (see NUXT_VAPID_*): ${(error as Error).message}` }
  }
  const secure = url.protocol === 'https:'
  const agent = !secure ? agents.plain : options.allowInsecure ? agents.insecure : agents.guarded
  return new Promise((resolve) => {
    let settled = false
    // The whole exchange, answer included, within timeoutMs: a push service that answers a byte
    // at a time (which resets a socket's idle timeout) would otherwise hold a push slot for ever.
    const deadline = setTimeout(() => {
      done({ statusCode: null, retryAfterMs: null, error: `no complete answer in ${options.timeoutMs} ms` })
      request.destroy()
    }, options.timeoutMs)
    const done = (outcome: PushOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      resolve(outcome)
    }
    const request = (secure ? https : http).request(url, {
      method: 'POST',
      headers,
      agent,
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
    request.on('error', error => done({ statusCode: null, retryAfterMs: null, error: error.message }))
    request.end(body)
  })
}

const DAYS = 'Mon|Tue|Wed|Thu|Fri|Sat|Sun'
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const MONTH = MONTHS.join('|')
const TIME = '(\\d\\d):(\\d\\d):(\\d\\d)'
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms.
const IMF_FIXDATE = new RegExp(`^(?:${DAYS}), (\\d\\d) (${MONTH}) (\\d{4}) ${TIME} GMT$`)
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d\\d)-(${MONTH})-(\\d\\d) ${TIME} GMT$`)
const ASCTIME_DATE = new RegExp(`^(?:${DAYS}) (${MONTH}) ([ \\d]\\d) ${TIME} (\\d{4})$`)

/**
 * An HTTP-date (RFC 9110) in ms since the epoch; null for anything else. Date.parse is not used:
 * it reads "2.5" or "-5" as dates long past.
 */
export function parseHttpDate(value: string, now = Date.now()): number | null {
  let parts: [day: string, month: string, year: number, hour: string, minute: string, second: string] | null = null
  let match = IMF_FIXDATE.exec(value)
  if (match) parts = [match[1]!, match[2]!, Number(match[3]), match[4]!, match[5]!, match[6]!]
  else if ((match = RFC850_DATE.exec(value))) {
    // A two-digit year more than 50 years ahead is the last past year ending in those digits.
    let year = 2000 + Number(match[3])
    if (year > new Date(now).getUTCFullYear() + 50) year -= 100
    parts = [match[1]!, match[2]!, year, match[4]!, match[5]!, match[6]!]
  }
  else if ((match = ASCTIME_DATE.exec(value))) parts = [match[2]!, match[1]!, Number(match[6]), match[3]!, match[4]!, match[5]!]
  if (!parts) return null
  const [day, month, year, hour, minute, second] = parts
  const at = new Date(Date.UTC(year, MONTHS.indexOf(month), Number(day), Number(hour), Number(minute), Number(second)))
  // Date.UTC rolls over (31 Feb is 3 Mar, 24:00 the next day): such a date is not one.
  const valid = at.getUTCFullYear() === year && at.getUTCDate() === Number(day) && at.getUTCHours() === Number(hour)
    && at.getUTCMinutes() === Number(minute) && at.getUTCSeconds() === Number(second)
  return valid ? at.getTime() : null
}

/**
 * Retry-After (RFC 9110 §10.2.3) in ms: delay-seconds (digits only) or an HTTP-date (0 when it is
 * past); null when absent or anything else (the backoff applies then).
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim()
  if (!raw) return null
  if (/^\d+$/.test(raw)) return Number(raw) * 1000
  const date = parseHttpDate(raw, now)
  return date === null ? null : Math.max(0, date - now)
}
