// Pure rules of the inbox: merging, filtering, ordering, pruning. No storage, no DOM.
import type { InboxFilter, InboxItem } from './types'

export const PRUNE_DEFAULTS = { maxItems: 10_000, maxAgeDays: 90 }

/**
 * The same notification can arrive by push, by /channel and by REST, in any order. Read state
 * only moves forward: once read anywhere it stays read, whichever copy comes last.
 */
export function mergeItem(existing: InboxItem | null, incoming: InboxItem): InboxItem {
  if (!existing) return incoming
  return { ...existing, ...incoming, readAt: existing.readAt ?? incoming.readAt }
}

/** Whether merging `incoming` into `existing` would change what is stored. */
export function changes(existing: InboxItem | null, incoming: InboxItem): boolean {
  if (!existing) return true
  const merged = mergeItem(existing, incoming)
  return (Object.keys(merged) as (keyof InboxItem)[]).some(k => merged[k] !== existing[k])
}

/** Whether a "mark all read" bounded by `upTo` (published at or before it; none: all) takes this item. */
export function withinUpTo(item: InboxItem, upTo?: string | null): boolean {
  return !upTo || Date.parse(item.createdAt) <= Date.parse(upTo)
}

/**
 * Newest first; those of one millisecond by id, which the server makes time-ordered (UUIDv7 with
 * a counter): in the order they were published, as GET /api/inbox lists them.
 */
export function newestFirst(a: InboxItem, b: InboxItem): number {
  if (a.createdAt === b.createdAt) return a.id < b.id ? 1 : a.id > b.id ? -1 : 0
  return a.createdAt < b.createdAt ? 1 : -1
}

function words(q: string | undefined): string[] {
  return fold(q ?? '').split(/\s+/).filter(Boolean)
}

/**
 * Lower case for search, the same for the text and the words sought. Composed first (NFC): "é"
 * typed is found in an "e" followed by a combining accent, and the other way. "İ" lowers to "i"
 * plus a combining dot (U+0307), which "i" typed on any keyboard would never match: the dot is
 * dropped.
 */
export function fold(text: string): string {
  return text.normalize('NFC').toLowerCase().replace(/i\u0307/g, 'i')
}

export function matcher(filter: InboxFilter): (item: InboxItem) => boolean {
  const terms = words(filter.q)
  return (item) => {
    if (filter.topic && item.topic !== filter.topic) return false
    if (filter.unread && item.readAt) return false
    if (terms.length === 0) return true
    const text = fold(`${item.title}\n${item.body}`)
    return terms.every(t => text.includes(t))
  }
}

export function filterItems(items: InboxItem[], filter: InboxFilter): InboxItem[] {
  return items.filter(matcher(filter)).sort(newestFirst)
}

/** Ids to drop: anything older than maxAgeDays, and all but the newest maxItems. */
export function prunable(items: InboxItem[], options = PRUNE_DEFAULTS, now = new Date()): string[] {
  const cutoff = new Date(now.getTime() - options.maxAgeDays * 86_400_000).toISOString()
  const sorted = [...items].sort(newestFirst)
  return sorted.filter((item, index) => index >= options.maxItems || item.createdAt < cutoff).map(i => i.id)
}

/** How many of the newest items the snapshot keeps: more than any screen shows at once. */
export const SNAPSHOT_SIZE = 50

/**
 * What the inbox page shows first, while the whole local inbox (thousands of records, read one
 * by one through localForage) is still being read: the newest items and the counts, as one record.
 */
export interface InboxSnapshot {
  owner: string
  items: InboxItem[]
  unread: number
  total: number
}

/** The snapshot of an inbox whose items are sorted newest first (as the page keeps them). */
export function snapshotOf(owner: string, newestFirstItems: InboxItem[], size = SNAPSHOT_SIZE): InboxSnapshot {
  return {
    owner,
    items: newestFirstItems.slice(0, size),
    unread: newestFirstItems.reduce((n, i) => n + (i.readAt ? 0 : 1), 0),
    total: newestFirstItems.length,
  }
}
