// A push: store it in the inbox, tell open pages, and always show a notification (browsers
// penalise a push that shows nothing, and the user asked for these).
import { useInboxDb } from '#shared/inbox/browser'
import { fromPush, type InboxItem, type PushPayload } from '#shared/inbox/types'
import { announce } from './inbox'
import { sw } from './scope'

function parse(event: PushEvent): PushPayload | null {
  try {
    const payload = event.data?.json() as PushPayload | undefined
    return payload && typeof payload.id === 'string' && typeof payload.title === 'string' ? payload : null
  }
  catch {
    return null
  }
}

/** Stores the push in the inbox of the user logged in here; returns that user (null: nobody). */
async function store(item: InboxItem, shortened: boolean): Promise<string | null> {
  const { inbox, meta } = useInboxDb()
  // Nobody is logged in on this browser (a push still on its way at a logout): it belongs to no
  // inbox here. It is still shown; the next login syncs its own inbox from the server.
  const owner = await meta.getItem<string>('owner')
  if (!owner) return null
  // A push cut to fit does not replace the whole copy the app stored (from /channel or the server).
  const whole = shortened ? await inbox.get(item.id) : null
  const { changed } = await inbox.add([whole ? { ...item, body: whole.body, url: whole.url } : item])
  await announce(owner, changed.length ? { type: 'added', items: changed } : null)
  return owner
}

export async function onPush(event: PushEvent): Promise<void> {
  const payload = parse(event)
  if (!payload) {
    await sw.registration.showNotification('Mercury', { body: 'You have a new notification.', icon: '/icons/icon-192.png' })
    return
  }
  const item = fromPush(payload)
  let owner: string | null = null
  try {
    owner = await store(item, payload.shortened === true)
  }
  catch (error) {
    // Storage can fail (quota, private mode); the notification must still show.
    console.error('mercury: could not store a push', error)
  }
  await sw.registration.showNotification(item.title, {
    body: item.body,
    tag: item.id,
    icon: '/icons/icon-192.png',
    badge: '/icons/icon-192.png',
    timestamp: Date.parse(item.createdAt),
    requireInteraction: item.priority >= 5,
    // Whose it is: a click acts on it only while that user is the one logged in here.
    data: { id: item.id, url: item.url ?? '/', owner },
  } as NotificationOptions)
}
