// The app's first question, who is logged in (nuxt-auth-utils asks GET /api/_auth/session before
// any page shows), is waited for SESSION_ANSWER_MS at most: a stalled network is then taken as
// offline, and the app opens as the last user seen on this device (composables/useOfflineSession.ts)
// instead of staying blank for as long as the request hangs. As after any offline start, the
// server is asked again when it refuses something or the tab comes back into view
// (plugins/session-check.client.ts).

export default defineNuxtPlugin({
  name: 'mercury:session-start',
  enforce: 'pre',
  setup() {
    const nativeFetch = window.fetch.bind(window)
    let first = true
    window.fetch = (input, init) => {
      if (first && !init?.signal && sessionQuestion(input, init)) {
        first = false
        return nativeFetch(input, { ...init, signal: AbortSignal.timeout(SESSION_ANSWER_MS) })
      }
      return nativeFetch(input, init)
    }
  },
})

function sessionQuestion(input: RequestInfo | URL, init?: RequestInit): boolean {
  if (input instanceof Request) return false
  const url = new URL(String(input), location.href)
  return url.origin === location.origin && url.pathname === '/api/_auth/session' && (init?.method ?? 'GET').toUpperCase() === 'GET'
}
