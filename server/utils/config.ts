import { createECDH } from 'node:crypto'
import { mkdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { passwordSchema } from '#shared/schemas/accounts'
import { MAX_TIMER_MS } from '#shared/utils/timers'

/** A setting with a wrong value: start-up stops with its message alone (no stack trace). */
export class ConfigError extends Error {}

export interface MercuryConfig {
  databaseUrl: string
  redisUrl: string | null
  dataDir: string
  adminPassword: string | null
  /** MERCURY_RESET_ADMIN_PASSWORD: the admin's new password, set at start-up. */
  resetAdminPassword: string | null
  /** Largest JSON body a REST route accepts, in bytes. */
  maxBodyBytes: number
  /** Failed logins allowed per username and per address within the window. */
  loginMaxFailures: number
  loginWindowSeconds: number
  /** Largest message a producer may publish (REST body or /datalink frame), in bytes. */
  maxPayloadBytes: number
  /** Largest frame a /channel client may send, in bytes. */
  maxClientFrameBytes: number
  /** Messages kept per topic for recovery. */
  historySize: number
  historyMaxAgeSeconds: number
  historyMaxBytes: number
  /** Days a notification is kept (with its inbox rows and deliveries); 0 keeps them for ever. */
  retentionDays: number
  /** Days a login (its token and its cookie) lasts without being used. */
  sessionDays: number
  /** Seconds between WebSocket pings; a peer that missed one ping is closed. */
  heartbeatSeconds: number
  /** Unsent bytes a /channel peer may have queued before it is disconnected as a slow consumer. */
  maxBufferedBytes: number
  /** all: web and workers; web: HTTP and WebSockets only; worker: the delivery workers only. */
  role: 'all' | 'web' | 'worker'
  pushMaxAttempts: number
  pushRetryBaseMs: number
  pushTimeoutMs: number
  pushConcurrency: number
  /** Of the pushes in flight, at most this many to one push service (origin). */
  pushServiceConcurrency: number
  /** Threads that encrypt push payloads (0: on the event loop). */
  pushThreads: number
  /** Tests only: push endpoints may be http and internal addresses. */
  pushAllowInsecure: boolean
  /** How soon a job of a killed worker process goes to another one (Redis queues). */
  queueStalledMs: number
  /** Messages per second one source may publish (per instance). */
  sourceRateLimit: number
  /** MERCURY_SOURCE_CACHE_SECONDS: how long an instance uses its copy of a source before reading it again. */
  sourceCacheSeconds: number
  /** Frames per second one /channel connection may send. */
  channelFrameRate: number
  /** Frames per second one /datalink connection may send. */
  datalinkFrameRate: number
  maxConnectionsPerUser: number
  /** Open /datalink connections per source (per instance): bounds what a leaked token can hold. */
  maxConnectionsPerSource: number
  maxSubscriptionsPerConnection: number
  /** Origins besides the server's own that may use the session cookie, as `new URL(…).origin` gives them. */
  allowedOrigins: string[]
  /** MERCURY_METRICS_TOKEN: the bearer token of /metrics, or null when /metrics is off. */
  metricsToken: string | null
  trustProxy: boolean
  /** NUXT_VAPID_*: the subject, and the key pair when one is set (else it is kept in the database). */
  vapid: { subject: string, keys: { publicKey: string, privateKey: string } | null }
}

let cached: MercuryConfig | undefined

const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000)
const TEN_YEARS_SECONDS = 10 * 365 * 24 * 60 * 60
/** Shorter, a metrics token could be guessed: /metrics tells how busy the server is and who is online. */
export const MIN_METRICS_TOKEN_LENGTH = 16

/**
 * Decimal digits only: Number() would also take "1e3", "0x10", " 5 " and "1.0", so that a typo
 * or a value meant for another program would quietly set something else.
 */
function intFromEnv(name: string, fallback: number, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN
  if (!(value >= min && value <= max)) {
    const range = max < Number.MAX_SAFE_INTEGER
      ? `an integer from ${min} to ${max}`
      : min === 1 ? 'a positive integer' : `an integer ≥ ${min}`
    throw new ConfigError(`${name} must be ${range} in decimal digits only, got "${raw}"`)
  }
  return value
}

/**
 * MERCURY_ALLOWED_ORIGINS: each entry is compared with the Origin header a browser sends, which is
 * scheme://host[:port], lower case, without the default port or a trailing slash. An entry is kept
 * in that form, so that "https://App.example.com/" matches; one that is not an origin stops the start.
 */
function allowedOriginsFromEnv(): string[] {
  const entries = (process.env.MERCURY_ALLOWED_ORIGINS ?? '').split(',').map(entry => entry.trim()).filter(Boolean)
  return entries.map((entry) => {
    const url = URL.canParse(entry) ? new URL(entry) : null
    // Anything beyond the origin (a path, a query, a fragment, credentials) shows in the href.
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.href !== `${url.origin}/`) {
      throw new ConfigError(`MERCURY_ALLOWED_ORIGINS must list origins, scheme://host[:port] (https://app.example.com), separated by commas, got "${entry}"`)
    }
    return url.origin
  })
}

function metricsTokenFromEnv(): string | null {
  const token = process.env.MERCURY_METRICS_TOKEN || null
  if (token !== null && token.trim().length < MIN_METRICS_TOKEN_LENGTH) {
    throw new ConfigError(`MERCURY_METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters besides spaces (openssl rand -hex 32 makes one), got ${token.trim().length}`)
  }
  return token
}

/** A switch: 1, true, yes or on; 0, false, no or off; unset is off. Anything else stops the start. */
function flagFromEnv(name: string): boolean {
  const raw = (process.env[name] ?? '').trim().toLowerCase()
  if (raw === '' || ['0', 'false', 'no', 'off'].includes(raw)) return false
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  throw new ConfigError(`${name} must be 1 or 0 (true or false), got "${process.env[name]}"`)
}

function redisUrlFrom(value: string | null): string | null {
  if (!value) return null
  const protocol = URL.canParse(value) ? new URL(value).protocol : ''
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new ConfigError(`REDIS_URL must be a redis:// or rediss:// URL (redis://127.0.0.1:6379), got "${value}"`)
  }
  return value
}

/**
 * A SQLite file (file:…) or a PostgreSQL URL. SQLite is opened through libSQL, which takes none of
 * Prisma's URL parameters (?connection_limit=1 made the migration fail with "External error id#0").
 * A refused value is never printed: it may hold a password in any of many shapes.
 */
function databaseUrlFrom(value: string): string {
  if (value.startsWith('file:')) {
    const file = value.slice('file:'.length)
    if (file.includes('?')) throw new ConfigError(`DATABASE_URL for SQLite takes no parameters: remove "${file.slice(file.indexOf('?'))}"`)
    if (file === '' || file === ':memory:' || file.endsWith('/')) throw new ConfigError(`DATABASE_URL must name a SQLite file (file:./data/mercury.db), got "${value}"`)
    if (isDirectory(path.resolve(file))) throw new ConfigError(`DATABASE_URL names a directory, not a SQLite file: ${path.resolve(file)} (file:${path.join(path.resolve(file), 'mercury.db')}?)`)
    return value
  }
  if (/^postgres(ql)?:\/\//.test(value)) return value
  throw new ConfigError('DATABASE_URL must be a SQLite file (file:./data/mercury.db) or a PostgreSQL URL (postgresql://user:pass@host:5432/db); the value given is not shown, as it may hold a password')
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory()
  }
  catch {
    return false
  }
}

/**
 * The resolved configuration: plain environment variables (documented in README) first,
 * then Nuxt runtimeConfig (NUXT_*), then embedded defaults.
 */
export function mercuryConfig(): MercuryConfig {
  if (cached) return cached
  const runtime = useRuntimeConfig()
  const dataDir = path.resolve(process.env.MERCURY_DATA_DIR || runtime.dataDir || 'data')
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  }
  catch (error) {
    throw new ConfigError(`cannot use ${dataDir} as the data directory (MERCURY_DATA_DIR): ${(error as Error).message}`)
  }
  const pushConcurrency = intFromEnv('MERCURY_PUSH_CONCURRENCY', 128)
  cached = {
    dataDir,
    databaseUrl: databaseUrlFrom(process.env.DATABASE_URL || runtime.databaseUrl || `file:${path.join(dataDir, 'mercury.db')}`),
    redisUrl: redisUrlFrom(process.env.REDIS_URL || runtime.redisUrl || null),
    adminPassword: passwordFromEnv('MERCURY_ADMIN_PASSWORD', process.env.MERCURY_ADMIN_PASSWORD || runtime.adminPassword || null),
    resetAdminPassword: passwordFromEnv('MERCURY_RESET_ADMIN_PASSWORD', process.env.MERCURY_RESET_ADMIN_PASSWORD || null),
    maxBodyBytes: intFromEnv('MERCURY_MAX_BODY_BYTES', 64 * 1024),
    loginMaxFailures: intFromEnv('MERCURY_LOGIN_MAX_FAILURES', 10),
    loginWindowSeconds: intFromEnv('MERCURY_LOGIN_WINDOW_SECONDS', 15 * 60, { max: MAX_TIMER_SECONDS }),
    maxPayloadBytes: intFromEnv('MERCURY_MAX_PAYLOAD_BYTES', 64 * 1024),
    maxClientFrameBytes: intFromEnv('MERCURY_MAX_CLIENT_FRAME_BYTES', 16 * 1024),
    historySize: intFromEnv('MERCURY_HISTORY_SIZE', 1000),
    historyMaxAgeSeconds: intFromEnv('MERCURY_HISTORY_MAX_AGE_SECONDS', 24 * 60 * 60, { max: TEN_YEARS_SECONDS }),
    historyMaxBytes: intFromEnv('MERCURY_HISTORY_MAX_BYTES', 256 * 1024 * 1024, { min: 1024 * 1024 }),
    retentionDays: intFromEnv('MERCURY_RETENTION_DAYS', 90, { min: 0, max: 100 * 365 }),
    sessionDays: intFromEnv('MERCURY_SESSION_DAYS', 30, { max: 10 * 365 }),
    heartbeatSeconds: intFromEnv('MERCURY_HEARTBEAT_SECONDS', 30, { max: MAX_TIMER_SECONDS }),
    maxBufferedBytes: intFromEnv('MERCURY_MAX_BUFFERED_BYTES', 4 * 1024 * 1024),
    role: roleFromEnv(),
    pushMaxAttempts: intFromEnv('MERCURY_PUSH_MAX_ATTEMPTS', 5),
    pushRetryBaseMs: intFromEnv('MERCURY_PUSH_RETRY_BASE_MS', 2000, { max: MAX_TIMER_MS }),
    pushTimeoutMs: intFromEnv('MERCURY_PUSH_TIMEOUT_MS', 10_000, { max: MAX_TIMER_MS }),
    pushConcurrency,
    // Half by default (64 of 128): a push service that hangs leaves the other half to the others,
    // and the pushes to one push service have as many in flight as all of them had before the cap.
    pushServiceConcurrency: intFromEnv('MERCURY_PUSH_SERVICE_CONCURRENCY', Math.ceil(pushConcurrency / 2)),
    pushThreads: intFromEnv('MERCURY_PUSH_THREADS', 1, { min: 0 }),
    pushAllowInsecure: flagFromEnv('MERCURY_PUSH_ALLOW_INSECURE'),
    queueStalledMs: intFromEnv('MERCURY_QUEUE_STALLED_MS', 10_000, { max: MAX_TIMER_MS }),
    sourceRateLimit: intFromEnv('MERCURY_SOURCE_RATE_LIMIT', 2000),
    sourceCacheSeconds: intFromEnv('MERCURY_SOURCE_CACHE_SECONDS', 30, { max: MAX_TIMER_SECONDS }),
    channelFrameRate: intFromEnv('MERCURY_CHANNEL_FRAME_RATE', 50),
    datalinkFrameRate: intFromEnv('MERCURY_DATALINK_FRAME_RATE', 5000),
    maxConnectionsPerUser: intFromEnv('MERCURY_MAX_CONNECTIONS_PER_USER', 100),
    maxConnectionsPerSource: intFromEnv('MERCURY_MAX_CONNECTIONS_PER_SOURCE', 100),
    maxSubscriptionsPerConnection: intFromEnv('MERCURY_MAX_SUBSCRIPTIONS', 200),
    allowedOrigins: allowedOriginsFromEnv(),
    metricsToken: metricsTokenFromEnv(),
    trustProxy: flagFromEnv('MERCURY_TRUST_PROXY'),
    vapid: vapidFromEnv(),
  }
  if (cached.role === 'worker' && !cached.redisUrl) {
    cached = undefined
    throw new ConfigError('MERCURY_ROLE=worker needs REDIS_URL: a worker takes its jobs from the Redis queues that the web processes fill')
  }
  return cached
}

/** The admin passwords follow the rules of every password. */
function passwordFromEnv(name: string, value: string | null): string | null {
  if (value === null) return null
  const checked = passwordSchema.safeParse(value)
  if (!checked.success) throw new ConfigError(`${name} ${checked.error.issues[0]!.message}`)
  return value
}

/** Checked at start-up: a wrong value would otherwise fail every push, one by one. */
function vapidFromEnv(): MercuryConfig['vapid'] {
  const subject = process.env.NUXT_VAPID_SUBJECT || 'mailto:mercury@localhost'
  const protocol = URL.canParse(subject) ? new URL(subject).protocol : ''
  if (protocol !== 'mailto:' && protocol !== 'https:') {
    throw new ConfigError(`NUXT_VAPID_SUBJECT must be a mailto: or https: URL (mailto:ops@example.com), got "${subject}"`)
  }
  const publicKey = process.env.NUXT_VAPID_PUBLIC_KEY || ''
  const privateKey = process.env.NUXT_VAPID_PRIVATE_KEY || ''
  if (!publicKey && !privateKey) return { subject, keys: null }
  if (!publicKey || !privateKey) throw new ConfigError('NUXT_VAPID_PUBLIC_KEY and NUXT_VAPID_PRIVATE_KEY go together: set both, or neither (a pair is then generated)')
  const length = (key: string) => /^[\w-]+$/.test(key) ? Buffer.from(key, 'base64url').length : -1
  if (length(publicKey) !== 65) throw new ConfigError('NUXT_VAPID_PUBLIC_KEY must be a P-256 public key: 65 bytes in base64url (as web-push generate-vapid-keys prints it)')
  if (length(privateKey) !== 32) throw new ConfigError('NUXT_VAPID_PRIVATE_KEY must be a P-256 private key: 32 bytes in base64url (as web-push generate-vapid-keys prints it)')
  // Of the right length is not enough: the private key must be one, and the public key its own.
  const ecdh = createECDH('prime256v1')
  try {
    ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'))
  }
  catch {
    throw new ConfigError('NUXT_VAPID_PRIVATE_KEY is not a valid P-256 private key')
  }
  if (!ecdh.getPublicKey().equals(Buffer.from(publicKey, 'base64url'))) {
    throw new ConfigError('NUXT_VAPID_PUBLIC_KEY is not the public key of NUXT_VAPID_PRIVATE_KEY: set the two keys web-push generate-vapid-keys printed together')
  }
  return { subject, keys: { publicKey, privateKey } }
}

function roleFromEnv(): MercuryConfig['role'] {
  const role = process.env.MERCURY_ROLE || 'all'
  if (role !== 'all' && role !== 'web' && role !== 'worker') throw new ConfigError(`MERCURY_ROLE must be all, web or worker, got "${role}"`)
  return role
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:/.test(url)
}

/** The largest WebSocket frame read at all (see server/plugins/10.realtime.ts). */
export function frameReadLimit(config: Pick<MercuryConfig, 'maxPayloadBytes' | 'maxClientFrameBytes'>): number {
  return Math.max(1024 * 1024, 4 * Math.max(config.maxPayloadBytes, config.maxClientFrameBytes))
}
