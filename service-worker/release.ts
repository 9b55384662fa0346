// A new release's worker waits until the user asks for it (the app's "Reload"): taking over at
// once made every open tab reload by itself, losing whatever was being typed. The first install
// has no one to wait for and takes the open pages at once, so that the first visit is already
// controlled (offline shell, push).
import { SKIP_WAITING } from '#shared/utils/sw-update'
import { sw } from './scope'

// Whether this worker came with no other active one before it. Known at install; the worker is
// not stopped between installing and activating when nothing makes it wait.
let firstInstall = false

export function onInstall(): void {
  firstInstall = !sw.registration.active
}

export async function onActivate(): Promise<void> {
  // On an update the pages the old worker controlled come to this one by themselves (and are
  // told, so that each can offer its reload); claiming is only for a page opened before the
  // first install.
  if (firstInstall) await sw.clients.claim()
}

export function onMessage(event: ExtendableMessageEvent): void {
  const data = event.data as { type?: string } | null
  if (data?.type === SKIP_WAITING) event.waitUntil(sw.skipWaiting())
}
