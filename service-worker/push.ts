// A push: store it in the inbox of the user it is for, tell open pages, and always show a
// notification (browsers penalise a push that shows nothing, and the user asked for these).
import { useInboxDb } from '#shared/inbox/browser'
import { fromPush, type InboxItem, type PushPayload } from '#shared/inbox/types'
import { announce } from './inbox'
import { sw } from './scope'

const ICON = '/icons/icon-192.png'

function parse(event: PushEvent): PushPayload | null {
  try {
    const payload = event.data?.json() as PushPayload | undefined
    if (!payload || typeof payload.id !== 'string' || typeof payload.title !== 'string') return null
    return typeof payload.user === 'string' ? payload : { ...payload, user: undefined }
  }
  catch {
    return null
  }
}

/** The user logged in on this browser (whose the inbox store is); null: nobody, or unknown. */
async function loggedInUser(): Promise<string | null> {
  return useInboxDb().meta.getItem<string>('owner').catch((error: unknown) => {
    console.error('mercury: could not read whose the inbox is', error)
    return null
  })
}

/** Stores the push in `owner`'s inbox, which it is for. */
async function store(item: InboxItem, shortened: boolean, owner: string): Promise<void> {
  const { inbox } = useInboxDb()
  // A push cut to fit does not replace the whole copy the app stored (from /channel or the server).
  const whole = shortened ? await inbox.get(item.id) : null
  const { changed } = await inbox.add([whole ? { ...item, body: whole.body, url: whole.url } : item])
  await announce(owner, changed.length ? { type: 'added', owner, items: changed } : null)
}

/** A notification "Mercury" that shows nothing of the push, which must show something (userVisibleOnly). */
function showBare(payload: PushPayload): Promise<void> {
  return sw.registration.showNotification('Mercury', { tag: payload.id, icon: ICON })
}

export async function onPush(event: PushEvent): Promise<void> {
  const payload = parse(event)
  if (!payload) {
    await sw.registration.showNotification('Mercury', { body: 'You have a new notification.', icon: ICON })
    return
  }
  const item = fromPush(payload)
  // Stored only for the user it names, while they are the one logged in. A push from a server that
  // does not name its user is stored nowhere: the next sync of the app brings it from the server
  // into the inbox of whoever it is for.
  let stored = false
  const owner = await loggedInUser()
  if (owner && payload.user === owner) {
    try {
      await store(item, payload.shortened === true, owner)
      stored = true
    }
    catch (error) {
      // Storage can fail (quota, private mode); the notification must still show.
      console.error('mercury: could not store a push', error)
    }
  }
  // Whose the browser is, asked again right before showing: someone may have logged out, or
  // someone else in, while the push was being stored (their login closes what is on screen, but
  // only what was shown before it). Nobody logged in, or someone else than the push's user (a
  // push sent before they logged out, late or retried): it shows nothing of its own.
  const now = await loggedInUser()
  if (!now || (payload.user !== undefined && payload.user !== now)) return showBare(payload)
  await sw.registration.showNotification(item.title, {
    body: item.body,
    tag: item.id,
    icon: ICON,
    badge: ICON,
    timestamp: Date.parse(item.createdAt),
    requireInteraction: item.priority >= 5,
    // Whose it is: a click acts on it only while that user is the one logged in here.
    data: { id: item.id, url: item.url ?? '/', owner: stored && now === owner ? owner : null },
  } as NotificationOptions)
}
