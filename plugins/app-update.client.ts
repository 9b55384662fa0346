// New releases. The service worker registered here (not by @vite-pwa/nuxt's plugin, whose
// autoUpdate reloads every tab as soon as a new worker takes over, and whose prompt mode reloads
// every tab that showed its prompt when any one of them accepts) installs a new release's worker
// and leaves it waiting. Every open tab then offers "Reload" (components/app/AppUpdate.vue); the
// one pressed activates the waiting worker and reloads that tab only. The other tabs, now
// controlled by a worker newer than their code, keep offering it. Nothing reloads by itself:
// whatever someone is typing stays.
//
// The app asks for a new worker every hour and when /channel reconnects after a drop (a server
// restart is usually a deploy); the browser also checks on every navigation.
import { SKIP_WAITING } from '#shared/utils/sw-update'

const CHECK_EVERY_MS = 60 * 60 * 1000

export default defineNuxtPlugin(() => {
  const update = useAppUpdate()
  let registration: ServiceWorkerRegistration | undefined
  let reloading = false

  function offer() {
    update.value = { available: true, dismissed: false }
  }

  function reloadOnce() {
    if (!reloading) return
    reloading = false
    location.reload()
  }

  /** Asks the server for a new worker; quietly does nothing offline or while one is installing. */
  async function checkForUpdate(): Promise<void> {
    if (!registration || registration.installing || !navigator.onLine) return
    await registration.update().catch(() => { /* unreachable now: the next check tries again */ })
  }

  /** "Reload": the waiting worker takes over, then this tab loads the new release. */
  function applyUpdate(): void {
    const waiting = registration?.waiting
    reloading = true
    // Already active (another tab's Reload): only this tab's code is old.
    if (!waiting) return reloadOnce()
    // Usually controllerchange comes first; a tab the worker does not control (a hard reload)
    // has none, and reloads once the worker is active.
    waiting.addEventListener('statechange', () => {
      if (waiting.state === 'activated') reloadOnce()
    })
    waiting.postMessage({ type: SKIP_WAITING })
  }

  if ('serviceWorker' in navigator) {
    const container = navigator.serviceWorker
    // A page a worker controlled from its load came with that worker's release; one that was not
    // (the first visit) is claimed by the first worker, which is no update.
    let controlled = !!container.controller
    container.addEventListener('controllerchange', () => {
      if (reloading) return reloadOnce()
      if (controlled) offer()
      controlled = true
    })

    const watchInstalling = (worker: ServiceWorker | null) => {
      worker?.addEventListener('statechange', () => {
        // Installed beside an active worker: it waits for "Reload". (The first install does not.)
        if (worker.state === 'installed' && registration?.active) offer()
      })
    }

    container.register('/sw.js', { scope: '/' }).then((found) => {
      registration = found
      if (found.waiting && found.active) offer()
      watchInstalling(found.installing)
      found.addEventListener('updatefound', () => watchInstalling(found.installing))
      setInterval(() => void checkForUpdate(), CHECK_EVERY_MS)
    }).catch(error => console.error('mercury: the service worker could not be registered', error))
  }

  return { provide: { checkForUpdate, applyUpdate } }
})
