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

export async function onPush(event: PushEvent): Promise<void> {
  const payload = parse(event)
  if (!payload) {
    await sw.registration.showNotification('Mercury', { body: 'You have a new notification.', icon: ICON })
    return
  }
  const owner = await loggedInUser()
  if (owner && payload.user && payload.user !== owner) {
    // Someone else's, sent before they logged out and this user logged in (a late or retried
    // push): it goes in no inbox, and shows nothing of its own. Something must show, as for
    // every push (userVisibleOnly).
    await sw.registration.showNotification('Mercury', { tag: payload.id, icon: ICON })
    return
  }
  const item = fromPush(payload)
  // Stored only for the user it names. Nobody is logged in (a push still on its way at a logout),
  // or a push from a server that does not name its user: it is shown, and the next sync of the
  // app brings it from the server into the inbox of whoever it is for.
  let stored = false
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
  await sw.registration.showNotification(item.title, {
    body: item.body,
    tag: item.id,
    icon: ICON,
    badge: ICON,
    timestamp: Date.parse(item.createdAt),
    requireInteraction: item.priority >= 5,
    // Whose it is: a click acts on it only while that user is the one logged in here.
    data: { id: item.id, url: item.url ?? '/', owner: stored ? owner : null },
  } as NotificationOptions)
}
