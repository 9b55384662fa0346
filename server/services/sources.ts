import type { SourceStatus } from '#shared/schemas/sources'
import { splitPatterns } from '#shared/utils/topics'
import { useDb } from '../utils/db'
import { hashToken, newToken } from '../utils/secrets'

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

export async function rotateSourceToken(id: string) {
  const token = newToken('msrc')
  const source = await useDb().source.update({ where: { id }, data: { tokenHash: hashToken(token) }, select: publicSelect })
  forgetSource(id)
  return { source, token }
}

export async function updateSource(id: string, data: { name?: string, description?: string, topics?: string, status?: SourceStatus }) {
  const source = await useDb().source.update({ where: { id }, data, select: publicSelect })
  forgetSource(id)
  return source
}

// Sources by id and token hash. Entries live until an admin change (signalled to every instance)
// or, as a safety net against a lost signal, for CACHE_MS.
const CACHE_MS = 30_000
const byId = new Map<string, { info: SourceInfo | null, at: number }>()
const byHash = new Map<string, string>()

function toInfo(row: { id: string, name: string, status: string, topics: string, tokenHash: string }): SourceInfo {
  return { id: row.id, name: row.name, status: row.status as SourceStatus, patterns: splitPatterns(row.topics), tokenHash: row.tokenHash }
}

export function forgetSource(id: string): void {
  const cached = byId.get(id)
  if (cached?.info) byHash.delete(cached.info.tokenHash)
  byId.delete(id)
}

export async function sourceById(id: string): Promise<SourceInfo | null> {
  const cached = byId.get(id)
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.info
  const row = await useDb().source.findUnique({ where: { id }, select: { id: true, name: true, status: true, topics: true, tokenHash: true } })
  const info = row ? toInfo(row) : null
  byId.set(id, { info, at: Date.now() })
  if (info) byHash.set(info.tokenHash, id)
  return info
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
  const row = await useDb().source.findUnique({ where: { tokenHash: hash }, select: { id: true, name: true, status: true, topics: true, tokenHash: true } })
  if (!row) return null
  const info = toInfo(row)
  byId.set(info.id, { info, at: Date.now() })
  byHash.set(hash, info.id)
  return info
}

// Counters are kept in memory and written in one batch every few seconds, so publishing costs no
// database round trip of its own.
const pending = new Map<string, { messages: number, notifications: number, lastSeenAt: Date }>()
const pendingTopics = new Map<string, { messages: number, lastMessageAt: Date }>()

export function countPublish(sourceId: string | null, topic: string, notification: boolean): void {
  const now = new Date()
  if (sourceId) {
    const entry = pending.get(sourceId) ?? { messages: 0, notifications: 0, lastSeenAt: now }
    entry.messages++
    if (notification) entry.notifications++
    entry.lastSeenAt = now
    pending.set(sourceId, entry)
  }
  const topicEntry = pendingTopics.get(topic) ?? { messages: 0, lastMessageAt: now }
  topicEntry.messages++
  topicEntry.lastMessageAt = now
  pendingTopics.set(topic, topicEntry)
}

export async function flushCounters(): Promise<void> {
  if (pending.size === 0 && pendingTopics.size === 0) return
  const sources = [...pending]
  const topics = [...pendingTopics]
  pending.clear()
  pendingTopics.clear()
  const db = useDb()
  await Promise.all([
    ...sources.map(([id, c]) => db.source.updateMany({
      where: { id },
      data: { messageCount: { increment: c.messages }, notificationCount: { increment: c.notifications }, lastSeenAt: c.lastSeenAt },
    })),
    ...topics.map(([name, c]) => db.topic.upsert({
      where: { name },
      create: { name, messageCount: c.messages, lastMessageAt: c.lastMessageAt },
      update: { messageCount: { increment: c.messages }, lastMessageAt: c.lastMessageAt },
    })),
  ])
}
