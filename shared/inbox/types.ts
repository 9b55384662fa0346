// The inbox as the browser keeps it. Page and service worker share this module: no `window` here.

/** One notification in the local inbox, keyed by the notification id. */
export interface InboxItem {
  id: string
  topic: string
  title: string
  body: string
  url: string | null
  priority: number
  /** ISO time the notification was published. */
  createdAt: string
  /** ISO time it was read, on any device; null while unread. */
  readAt: string | null
}

export interface InboxFilter {
  /** Words to find in title or body (case-insensitive, every word must match). */
  q?: string
  topic?: string
  unread?: boolean
}

/** What a push carries (see docs/PWA.md). */
export interface PushPayload {
  /** The id of the user whose inbox it goes to; none from a server older than this field. */
  user?: string
  id: string
  topic: string
  title: string
  body?: string
  url?: string | null
  priority?: number
  createdAt?: string
  /** The body was cut or the URL left out to fit a push: a whole copy already stored wins. */
  shortened?: boolean
}

/** A `message` frame from /channel that carries a notification. */
export interface MessageFrame {
  type: 'message'
  topic: string
  offset: number
  id: string
  notification?: { title: string, body?: string, url?: string | null, priority?: number }
  createdAt: string
}

/** An item of `GET /api/inbox`. */
export interface ServerInboxEntry {
  id: string
  topic: string
  title: string
  body: string
  url: string | null
  priority: number
  createdAt: string
  readAt: string | null
}

export function fromPush(p: PushPayload, now = new Date()): InboxItem {
  return {
    id: p.id, topic: p.topic, title: p.title, body: p.body ?? '', url: p.url ?? null,
    priority: p.priority ?? 3, createdAt: p.createdAt ?? now.toISOString(), readAt: null,
  }
}

export function fromFrame(f: MessageFrame): InboxItem | null {
  if (!f.notification) return null
  const n = f.notification
  return {
    id: f.id, topic: f.topic, title: n.title, body: n.body ?? '', url: n.url ?? null,
    priority: n.priority ?? 3, createdAt: f.createdAt, readAt: null,
  }
}

export function fromServer(e: ServerInboxEntry): InboxItem {
  return {
    id: e.id, topic: e.topic, title: e.title, body: e.body, url: e.url, priority: e.priority,
    createdAt: new Date(e.createdAt).toISOString(), readAt: e.readAt ? new Date(e.readAt).toISOString() : null,
  }
}
