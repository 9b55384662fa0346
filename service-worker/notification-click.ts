// A click on a notification: bring the app forward (or open it) at the notification's URL, once.
import { sw } from './scope'

export async function onNotificationClick(event: NotificationEvent): Promise<void> {
  event.notification.close()
  const target = new URL((event.notification.data as { url?: string } | null)?.url ?? '/', sw.location.origin)
  const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true })
  const own = target.origin === sw.location.origin ? windows.find(w => new URL(w.url).origin === sw.location.origin) : undefined
  if (own) {
    // The page routes in place rather than reloading; a second window would be the wrong answer.
    own.postMessage({ type: 'navigate', url: target.pathname + target.search + target.hash })
    await own.focus()
    return
  }
  await sw.clients.openWindow(target.href)
}
