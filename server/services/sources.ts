import type { SourceStatus } from '#shared/schemas/sources'
import { splitPatterns } from '#shared/utils/topics'
import { mercuryConfig } from '../utils/config'
import { executeRaw, useDb } from '../utils/db'
import { hashToken, newToken } from '../utils/secrets'
import { isDatabaseUnavailable } from '../utils/unavailable'
import { warnAtMostEveryMinute } from '../utils/warn'

/** What the publish path needs to know about a source, kept in memory. */
export interface SourceInfo {
  id: string
  name: string
  status: SourceStatus
  patterns: string[]
  tokenHash: string
}

const publicSelect = {
  id: true, name: true, description: true, status: true, topics: true, messageCount: true,
  notificationCount: true, lastSeenAt: true, createdAt: true, updatedAt: true,
} as const

export async function listSources() {
  return useDb().source.findMany({ select: publicSelect, orderBy: { createdAt: 'asc' } })
}

export async function findSource(id: string) {
  return useDb().source.findUnique({ where: { id }, select: publicSelect })
}

export async function createSource(input: { name: string, description: string, topics: string, status: SourceStatus }) {
  const token = newToken('msrc')
  const source = await useDb().source.create({ data: { ...input, tokenHash: hashToken(token) }, select: publicSelect })
  return { source, token }
}

/**
 * How long after a rotation of a source another one counts as sent at the same moment. The server
 * may well take such requests one after the other: with SQLite, whose queries do not wait on the
 * network, a rotation runs from start to answer before the next request is even read, so the
 * rotations of one burst never overlap, and each would be answered 200 with a token the next one
 * replaces at once.
 */
export const ROTATION_QUIET_MS = 1000

/** When the last rotation of each source on this instance ended (Infinity: under way). */
const lastRotation = new Map<string, number>()

/**
 * A new token for the source; null when there is no such source, 'raced' when another rotation
 * replaced the token at the same moment (its token is the one that works: this one would not).
 * On this instance, that is one under way or ended less than ROTATION_QUIET_MS ago; on others, one
 * that replaced the token before this one could, or after it, before `settle` (what is done before
 * answering) was over: the token handed out is the source's when it is answered.
 */
export async function rotateSourceToken(id: string, settle: (source: NonNullable<Awaited<ReturnType<typeof findSource>>>) => Promise<unknown>) {
  if ((lastRotation.get(id) ?? -Infinity) > Date.now() - ROTATION_QUIET_MS) return 'raced' as const
  lastRotation.set(id, Infinity)
  try {
    const rotated = await replaceSourceToken(id)
    if (!rotated || rotated === 'raced') return rotated
    await settle(rotated.source)
    const now = await useDb().source.findUnique({ where: { id }, select: { tokenHash: true } })
    if (!now) return null
    return now.tokenHash === hashToken(rotated.token) ? rotated : 'raced' as const
  }
  finally {
    const ended = Date.now()
    lastRotation.set(id, ended)
    setTimeout(() => {
      if (lastRotation.get(id) === ended) lastRotation.delete(id)
    }, ROTATION_QUIET_MS).unref()
  }
}

async function replaceSourceToken(id: string) {
  const db = useDb()
  const current = await db.source.findUnique({ where: { id }, select: { tokenHash: true } })
  if (!current) return null
  const token = newToken('msrc')
  const { count } = await db.source.updateMany({ where: { id, tokenHash: current.tokenHash }, data: { tokenHash: hashToken(token) } })
  forgetSource(id)
  if (count === 0) return 'raced' as const
  const source = await db.source.findUnique({ where: { id }, select: publicSelect })
  return source ? { source, token } : null
}

export async function updateSource(id: string, data: { name?: string, description?: string, topics?: string, status?: SourceStatus }) {
  const source = await useDb().source.update({ where: { id }, data, select: publicSelect })
  forgetSource(id)
  return source
}

// Sources by id and token hash. Entries live until an admin change (signalled to every instance)
// or, as a safety net against a lost signal, for MERCURY_SOURCE_CACHE_SECONDS. An entry due for a
// refresh while the database cannot be read is used on: the source cannot have changed meanwhile
// (an admin change needs the database), and a change signalled from another instance still
// removes it. It is read again at most every OUTAGE_RETRY_MS until the database answers.
// A source not found is not kept: it was deleted, its producers still open look it up once and
// close, and nothing would ever remove its entry.
const OUTAGE_RETRY_MS = 5000
const byId = new Map<string, { info: SourceInfo, until: number }>()
const byHash = new Map<string, string>()

function toInfo(row: { id: string, name: string, status: string, topics: string, tokenHash: string }): SourceInfo {
  return { id: row.id, name: row.name, status: row.status as SourceStatus, patterns: splitPatterns(row.topics), tokenHash: row.tokenHash }
}

function cache(id: string, info: SourceInfo): void {
  byId.set(id, { info, until: Date.now() + mercuryConfig().sourceCacheSeconds * 1000 })
  byHash.set(info.tokenHash, id)
}

function uncache(id: string): void {
  const cached = byId.get(id)
  if (cached) byHash.delete(cached.info.tokenHash)
  byId.delete(id)
}

/** Every source read again from the database on its next use (changes may have been missed). */
export function forgetAllSources(): void {
  byId.clear()
  byHash.clear()
  loading.clear()
  changes++
}

export function forgetSource(id: string): void {
  uncache(id)
  loading.delete(id)
  changes++
}

/** Reads under way: the frames of a producer that arrive meanwhile wait for the same one, in order. */
const loading = new Map<string, Promise<SourceInfo | null>>()
/** Counts the changes signalled: a read begun before one is not kept (it may predate the change). */
let changes = 0

export function sourceById(id: string): Promise<SourceInfo | null> {
  const cached = byId.get(id)
  if (cached && Date.now() < cached.until) return Promise.resolve(cached.info)
  let load = loading.get(id)
  if (!load) {
    load = loadSource(id).finally(() => {
      if (loading.get(id) === load) loading.delete(id)
    })
    loading.set(id, load)
  }
  return load
}

async function loadSource(id: string): Promise<SourceInfo | null> {
  const seen = changes
  let row
  try {
    row = await useDb().source.findUnique({ where: { id }, select: { id: true, name: true, status: true, topics: true, tokenHash: true } })
  }
  catch (error) {
    return keptThroughOutage(id, error)
  }
  if (!row) {
    uncache(id)
    return null
  }
  const info = toInfo(row)
  if (seen === changes) cache(id, info)
  return info
}

/** This instance's copy of a source the database could not read again, or the error. */
function keptThroughOutage(id: string, error: unknown): SourceInfo | null {
  // Looked up now: a change signalled while the read was under way removed it.
  const cached = byId.get(id)
  if (!cached || !isDatabaseUnavailable(error)) throw error
  cached.until = Date.now() + Math.min(OUTAGE_RETRY_MS, mercuryConfig().sourceCacheSeconds * 1000)
  warnAtMostEveryMinute('the database is unavailable, sources known to this instance publish on', (error as Error).message)
  return cached.info
}

/** The source a token belongs to (any status), or null. */
export async function sourceByToken(token: string): Promise<SourceInfo | null> {
  if (!token.startsWith('msrc_')) return null
  const hash = hashToken(token)
  const id = byHash.get(hash)
  if (id) {
    const info = await sourceById(id)
    if (info?.tokenHash === hash) return info
  }
  const seen = changes
  const row = await useDb().source.findUnique({ where: { tokenHash: hash }, select: { id: true, name: true, status: true, topics: true, tokenHash: true } })
  if (!row) return null
  const info = toInfo(row)
  if (seen === changes) cache(info.id, info)
  return info
}

// Counters are kept in memory and written in one batch every few seconds, so publishing costs no
// database round trip of its own. Counts that could not be written (the database away) are added
// to the next batch: one sum per source and topic, however long the outage.
const pending = new Map<string, { messages: number, notifications: number, lastSeenAt: number }>()
const pendingTopics = new Map<string, { messages: number, lastMessageAt: number }>()

export function countPublish(sourceId: string | null, topic: string, notification: boolean): void {
  const now = Date.now()
  if (sourceId) addSourceCounts(sourceId, 1, notification ? 1 : 0, now)
  addTopicCounts(topic, 1, now)
}

function addSourceCounts(id: string, messages: number, notifications: number, lastSeenAt: number): void {
  const entry = pending.get(id) ?? { messages: 0, notifications: 0, lastSeenAt }
  entry.messages += messages
  entry.notifications += notifications
  entry.lastSeenAt = Math.max(entry.lastSeenAt, lastSeenAt)
  pending.set(id, entry)
}

function addTopicCounts(name: string, messages: number, lastMessageAt: number): void {
  const entry = pendingTopics.get(name) ?? { messages: 0, lastMessageAt }
  entry.messages += messages
  entry.lastMessageAt = Math.max(entry.lastMessageAt, lastMessageAt)
  pendingTopics.set(name, entry)
}

/**
 * Adds the counts to the sources and topics: one raw statement for each (see `rawStatement`). A
 * statement that fails puts its counts back for the next call, and the call rejects.
 */
export async function flushCounters(): Promise<void> {
  if (pending.size === 0 && pendingTopics.size === 0) return
  const sources = [...pending].map(([id, c]) => ({ id, messages: c.messages, notifications: c.notifications, lastSeenAt: new Date(c.lastSeenAt) }))
  const topics = [...pendingTopics].map(([name, c]) => ({ name, messages: c.messages, lastMessageAt: new Date(c.lastMessageAt) }))
  pending.clear()
  pendingTopics.clear()
  const writes = []
  if (sources.length > 0) {
    writes.push(executeRaw((sql) => {
      const rows = sql.records(sources, { id: 'text', messages: 'int', notifications: 'int', lastSeenAt: 'timestamp' })
      return `UPDATE "Source" SET "messageCount" = "messageCount" + ${rows.column('messages')}, "notificationCount" = "notificationCount" + ${rows.column('notifications')}, `
        + `"lastSeenAt" = ${rows.column('lastSeenAt')}, "updatedAt" = ${sql.timestamp(new Date())} FROM ${rows.from} WHERE "Source"."id" = ${rows.column('id')}`
    }).catch((error: unknown) => {
      for (const c of sources) addSourceCounts(c.id, c.messages, c.notifications, c.lastSeenAt.getTime())
      throw error
    }))
  }
  if (topics.length > 0) {
    writes.push(executeRaw((sql) => {
      const rows = sql.records(topics, { name: 'text', messages: 'int', lastMessageAt: 'timestamp' })
      return `INSERT INTO "Topic" ("name", "messageCount", "lastMessageAt", "createdAt") `
        + `SELECT ${rows.column('name')}, ${rows.column('messages')}, ${rows.column('lastMessageAt')}, ${sql.timestamp(new Date())} FROM ${rows.from} WHERE true `
        + `ON CONFLICT ("name") DO UPDATE SET "messageCount" = "Topic"."messageCount" + excluded."messageCount", "lastMessageAt" = excluded."lastMessageAt"`
    }).catch((error: unknown) => {
      for (const c of topics) addTopicCounts(c.name, c.messages, c.lastMessageAt.getTime())
      throw error
    }))
  }
  await Promise.all(writes)
}
