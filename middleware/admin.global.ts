// Admin pages are for admins: others are sent to the login page or told they may not enter.
// The API checks again on every request; this only keeps people off pages they cannot use.
export default defineNuxtRouteMiddleware((to) => {
  if (!to.path.startsWith('/admin') || to.path === '/admin/not-allowed') return
  const { loggedIn, user } = useUserSession()
  if (!loggedIn.value) {
    if (import.meta.client) loginReturn.keep(to.fullPath)
    return navigateTo('/login')
  }
  if (user.value?.role !== 'admin') return navigateTo('/admin/not-allowed')
})
