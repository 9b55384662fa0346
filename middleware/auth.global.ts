// Every page but /login needs a session. Offline, the last user seen on this device stands in
// (see composables/useOfflineSession.ts) so that the inbox still opens.
export default defineNuxtRouteMiddleware((to) => {
  const { loggedIn } = useUserSession()
  if (!loggedIn.value) useOfflineSession().restore()
  if (to.path !== '/login' && !loggedIn.value) return navigateTo('/login')
  if (to.path === '/login' && loggedIn.value) return navigateTo('/')
})
