// What the app learns of its user (GET /api/_auth/session, nuxt-auth-utils) comes from the
// sealed cookie, written at login: a role changed since, or a session ended from another tab
// (logout, a revoked token, a deleted user), still showed as it was at login. The API reads the
// user from the database on every request (server/utils/auth.ts); the app's view of it now does
// the same: current username and role, and no user once the session has ended.
export default defineNitroPlugin(() => {
  sessionHooks.hook('fetch', async (session, event) => {
    const user = await userFromSession(session.user?.id, session.tokenId)
    if (user) {
      session.user = { id: user.id, username: user.username, role: user.role }
      return
    }
    for (const key of Object.keys(session)) Reflect.deleteProperty(session, key)
    await clearUserSession(event)
  })
})
