// The session can change while the app is open: logged out in another tab, its token revoked, the
// user deleted, or their role changed by an admin. The server goes by the database on every
// request (401, 403, a /channel closed with 4001) and so does GET /api/_auth/session; the app asks
// it again when the server refuses something, and when the tab comes back into view. Once the
// session is gone it goes to the login page; an admin page left without the role goes to
// "Admins only". Another tab of this browser logging in as someone else, or out, is heard of at
// once (localStorage): this tab's user is no longer the browser's, and it goes to the login page.
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
    const asked = session.value
    // Logged out offline in another tab of this browser: this one follows.
    if (pendingLogout.has()) {
      await pendingLogout.send()
      await ended()
      return reroute()
    }
    let current: UserSession
    try {
      // Not useUserSession().fetch(): offline, that drops the session the app opened with. An
      // answer that does not come (a stalled connection) is nothing learnt too: a tab waiting to
      // confirm its user would otherwise open neither its inbox nor its channel.
      const response = await nativeFetch('/api/_auth/session', { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(SESSION_ANSWER_MS) })
      if (!response.ok) return
      current = await response.json() as UserSession
    }
    catch {
      return // offline or unreachable: nothing learnt
    }
    // Asked for a session this tab no longer has (logged out, and someone, the same user or
    // another, logged in while the answer came): it is about a session that is gone, and says
    // nothing of this one. A login, a logout or an offline start each make a new session object.
    if (!loggedIn.value || session.value !== asked) return
    // Someone else logged in on this browser since (in another tab): the cookie is theirs now.
    if (current.user && current.user.id !== user.value?.id) return left()
    if (current.user?.role === user.value?.role) {
      // Only a change is written: a new session object would run everything that watches the user.
      // The login's token id counts: a tab that opened offline learns it (its logout names it).
      if (current.user && (JSON.stringify(current.user) !== JSON.stringify(user.value) || current.tokenId !== session.value?.tokenId)) session.value = current
      return
    }
    if (current.user) session.value = current
    else {
      await ended()
      sessionEnded.value = true
    }
    await reroute()
  }

  /**
   * Whether the session is still this tab's user's, asked anew: an answer given before a login in
   * another tab (a slow one) names the previous user, and the tab then leaves (see `left`).
   * Offline, nothing is learnt and the user stands.
   */
  async function confirmSession(): Promise<boolean> {
    const asked = user.value?.id
    await running?.catch(() => {}) // a question asked earlier may have been answered before that login
    await checkSession()
    return asked !== undefined && user.value?.id === asked
  }

  /** The session ended without this tab asking: its page is kept for the same user only. */
  async function ended() {
    if (user.value?.id) loginReturn.endedFor(user.value.id)
    await signedOut()
  }

  /**
   * This tab's user is no longer the browser's: another tab logged in as someone else (the
   * session cookie and the local inbox are theirs now), or out. The tab stops at once — its
   * channel, its inbox — and wipes nothing: that is the other tab's (and it is someone else's
   * inbox now). It goes to the login page, which says the session has ended.
   */
  async function left() {
    if (!loggedIn.value) return
    if (user.value?.id) loginReturn.endedFor(user.value.id)
    session.value = {} as UserSession
    nuxtApp.runWithContext(() => {
      useChannelStore().disconnect()
      useInboxStore().leave()
    })
    sessionEnded.value = true
    await reroute()
  }

  /** Leaves when another tab changed who uses this browser (see `left`). */
  function followBrowserUser() {
    if (loggedIn.value && lastSeenUserId() !== user.value?.id) void left()
  }

  /**
   * Another tab cleared localStorage (the user last seen with it): the server says whether this
   * tab's session still holds, and if so its user is remembered again (for an offline start).
   */
  async function afterStorageCleared() {
    await checkSession()
    if (loggedIn.value && user.value) offlineSession.remember(user.value)
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

  onLastSeenUserChange(followBrowserUser, () => void afterStorageCleared())
  // The inbox in IndexedDB changed hands before this tab heard of it: it stores nothing more.
  nuxtApp.runWithContext(() => useInboxStore().onDisowned(followBrowserUser))
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void checkSession()
  })
  // A logout asked offline reaches the server as soon as it can.
  window.addEventListener('online', () => void pendingLogout.send())

  return { provide: { checkSession, confirmSession, signedOut } }
})
