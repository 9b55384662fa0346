// The app shell offline: the built assets are precached; the HTML shell (the same page for every
// route, as the app renders in the browser) is kept from the last navigation that reached the server.
import { cleanupOutdatedCaches, precacheAndRoute, type PrecacheEntry } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'

const SHELL_CACHE = 'mercury-shell-v1'
const SHELL_KEY = '/__shell'

export function routeNavigations(manifest: (string | PrecacheEntry)[]): void {
  cleanupOutdatedCaches()
  precacheAndRoute(manifest)
  registerRoute(new NavigationRoute(({ request }) => networkThenShell(request), {
    denylist: [/^\/api\//, /^\/channel/, /^\/datalink/, /^\/_/],
  }))
}

export async function cacheShell(): Promise<void> {
  try {
    const response = await fetch('/', { credentials: 'same-origin', cache: 'no-store' })
    if (isShell(response)) await (await caches.open(SHELL_CACHE)).put(SHELL_KEY, response)
  }
  catch { /* offline at install: the next navigation stores it */ }
}

function isShell(response: Response): boolean {
  return response.ok && (response.headers.get('content-type') ?? '').includes('text/html')
}

async function networkThenShell(request: Request): Promise<Response> {
  try {
    const response = await fetch(request)
    if (isShell(response)) {
      const copy = response.clone()
      caches.open(SHELL_CACHE).then(cache => cache.put(SHELL_KEY, copy)).catch(() => {})
    }
    return response
  }
  catch (error) {
    const shell = await caches.match(SHELL_KEY, { cacheName: SHELL_CACHE })
    if (shell) return shell
    throw error
  }
}
