// A click on a notification: bring the app forward (or open it) at the notification's URL, once,
// and mark the notification read, as opening it from the inbox does.
import { useInboxDb } from '#shared/inbox/browser'
import { announce } from './inbox'
import { sw } from './scope'

export async function onNotificationClick(event: NotificationEvent): Promise<void> {
  event.notification.close()
  const data = event.notification.data as { id?: string, url?: string, owner?: string | null } | null
  // Another user's notification, left on screen from before a logout (or shown while nobody was
  // logged in): it opens the app, and reads and routes nothing of whoever is logged in now.
  const owner = await useInboxDb().meta.getItem<string>('owner').catch(() => null)
  if (!data?.owner || data.owner !== owner) return open('/')
  await Promise.all([open(data.url ?? '/'), typeof data.id === 'string' ? markRead(data.id, owner) : undefined])
}

async function open(url: string): Promise<void> {
  const target = new URL(url, sw.location.origin)
  const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true })
  // A window of the app: not one showing the API (a JSON answer opened in a tab), the focused or
  // visible one first.
  const own = target.origin === sw.location.origin
    ? windows
      .filter(w => new URL(w.url).origin === sw.location.origin && !new URL(w.url).pathname.startsWith('/api/'))
      .sort((a, b) => rank(b) - rank(a))[0]
    : undefined
  if (own) {
    // The page routes in place rather than reloading; a second window would be the wrong answer.
    own.postMessage({ type: 'navigate', url: target.pathname + target.search + target.hash })
    await own.focus()
    return
  }
  await sw.clients.openWindow(target.href)
}

const rank = (w: WindowClient) => (w.focused ? 2 : 0) + (w.visibilityState === 'visible' ? 1 : 0)

/**
 * Read here at once (the inbox, open pages, the snapshot and the badge), queued for the server
 * first, as the app does: if the server cannot be told now, the app sends it with its next sync.
 */
async function markRead(id: string, owner: string): Promise<void> {
  try {
    const { inbox, readQueue } = useInboxDb()
    const item = await inbox.get(id)
    if (!item || item.readAt) return
    const readAt = new Date().toISOString()
    await readQueue.add([id])
    await inbox.markRead([id], readAt)
    await announce(owner, { type: 'read', owner, ids: [id], readAt })
    const res = await fetch('/api/inbox/read', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [id] }),
    })
    if (res.ok) await readQueue.done([id])
  }
  catch (error) {
    // Offline, or storage refused: the read stays queued (or the item unread), nothing is lost.
    console.error('mercury: could not mark a clicked notification read', error)
  }
}
