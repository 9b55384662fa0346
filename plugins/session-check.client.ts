// The session can change while the app is open: logged out in another tab, its token revoked, the
// user deleted, or their role changed by an admin. The server goes by the database on every
// request (401, 403, a /channel closed with 4001) and so does GET /api/_auth/session; the app asks
// it again when the server refuses something, and when the tab comes back into view. Once the
// session is gone it goes to the login page; an admin page left without the role goes to
// "Admins only".
import type { UserSession } from '#auth-utils'

export default defineNuxtPlugin((nuxtApp) => {
  // Taken here: the checks run later, from fetch and socket callbacks, outside any Nuxt context.
  const { session, loggedIn, user } = useUserSession()
  const offlineSession = useOfflineSession()
  const sessionEnded = useSessionEnded()
  const router = useRouter()
  let running: Promise<void> | null = null

  /** Asks the server who is logged in now; at most one question at a time. */
  function checkSession(): Promise<void> {
    running ??= check().finally(() => {
      running = null
    })
    return running
  }

  async function check() {
    if (!loggedIn.value) return
    // Logged out offline in another tab of this browser: this one follows.
    if (pendingLogout.has()) {
      await pendingLogout.send()
      await ended()
      return reroute()
    }
    let current: UserSession
    try {
      // Not useUserSession().fetch(): offline, that drops the session the app opened with.
      const response = await nativeFetch('/api/_auth/session', { headers: { accept: 'application/json' } })
      if (!response.ok) return
      current = await response.json() as UserSession
    }
    catch {
      return // offline or unreachable: nothing learnt
    }
    if (current.user?.role === user.value?.role) {
      if (current.user) session.value = current
      return
    }
    if (current.user) session.value = current
    else {
      await ended()
      sessionEnded.value = true
    }
    await reroute()
  }

  /** The session ended without this tab asking: its page is kept for the same user only. */
  async function ended() {
    if (user.value?.id) loginReturn.endedFor(user.value.id)
    await signedOut()
  }

  /** The route's own middleware (auth.global, admin.global) says where this session may be now. */
  async function reroute() {
    const route = router.currentRoute.value
    await router.replace({ path: route.path, query: route.query, hash: route.hash, force: true })
  }

  /**
   * What this device lets go of once its session is over, ended here (logout) or elsewhere: the
   * live channel, the local inbox, and push (whoever uses this browser next must not get them).
   */
  async function signedOut() {
    session.value = {} as UserSession
    offlineSession.forget()
    await nuxtApp.runWithContext(async () => {
      useChannelStore().disconnect()
      await Promise.all([
        useInboxStore().reset(),
        usePushDevice().endHere(),
      ])
    })
  }

  // Every request of the app goes through fetch ($fetch included, which the build binds once).
  const nativeFetch = window.fetch.bind(window)
  window.fetch = async (input, init) => {
    const response = await nativeFetch(input, init)
    if (response.status === 401 || response.status === 403) {
      const url = new URL(input instanceof Request ? input.url : String(input), location.href)
      // A wrong password at login is a 401 of its own, not a session that ended.
      if (url.origin === location.origin && url.pathname.startsWith('/api/') && !/^\/api\/_?auth\//.test(url.pathname)) void checkSession()
    }
    return response
  }

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void checkSession()
  })
  // A logout asked offline reaches the server as soon as it can.
  window.addEventListener('online', () => void pendingLogout.send())

  return { provide: { checkSession, signedOut } }
})
