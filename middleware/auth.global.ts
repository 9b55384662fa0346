// Every page but /login needs a session.
export default defineNuxtRouteMiddleware((to) => {
  const { loggedIn } = useUserSession()
  if (to.path !== '/login' && !loggedIn.value) return navigateTo('/login')
  if (to.path === '/login' && loggedIn.value) return navigateTo('/')
})
