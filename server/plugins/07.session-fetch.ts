// What the app learns of its user (GET /api/_auth/session, nuxt-auth-utils) comes from the
// sealed cookie, written at login: a role changed since, or a session ended from another tab
// (logout, a revoked token, a deleted user), still showed as it was at login. The API reads the
// user from the database on every request (server/utils/auth.ts); the app's view of it now does
// the same: current username and role, and no user once the session has ended. The cookie of an
// ended session is left as it is (every request refuses it): clearing it here, an answer slow to
// arrive would clear the cookie of a login made meanwhile in another tab of the browser.
export default defineNitroPlugin(() => {
  sessionHooks.hook('fetch', async (session) => {
    const user = await userFromSession(session.user?.id, session.tokenId)
    if (user) {
      session.user = { id: user.id, username: user.username, role: user.role }
      return
    }
    for (const key of Object.keys(session)) Reflect.deleteProperty(session, key)
  })
})
