// Every page but /login needs a session. Offline, the last user seen on this device stands in
// (see composables/useOfflineSession.ts) so that the inbox still opens.
export default defineNuxtRouteMiddleware(async (to) => {
  const { loggedIn, session } = useUserSession()
  // A logout asked offline (composables/useOfflineSession.ts): nobody is logged in here, whatever
  // the cookie says; the server hears of it now if it can, without holding up the page (a stalled
  // network would hold it for seconds). A login waits for that sending (pages/login.vue).
  if (import.meta.client && pendingLogout.has()) {
    void pendingLogout.send()
    session.value = {} as typeof session.value
  }
  if (!loggedIn.value) useOfflineSession().restore()
  if (to.path !== '/login' && !loggedIn.value) {
    if (import.meta.client) loginReturn.keep(to.fullPath)
    return navigateTo('/login')
  }
  if (to.path === '/login' && loggedIn.value) return navigateTo(import.meta.client ? loginReturn.take(useUserSession().user.value?.id) : '/')
})
