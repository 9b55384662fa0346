import type { H3Event } from 'h3'
import type { UserSession } from '#auth-utils'

const DAY_MS = 24 * 60 * 60_000
/** runtimeConfig.session.name in nuxt.config.ts. */
export const SESSION_COOKIE = 'mercury-session'
type SessionData = Omit<UserSession, 'id'>

/** Whether a request carries a session cookie: without one there is no session to read. */
export function hasSessionCookie(cookieHeader: string | null | undefined): boolean {
  return !!cookieHeader?.includes(`${SESSION_COOKIE}=`)
}

/**
 * Seals the session again, with a fresh expiry, when its cookie was set more than a day ago: an app
 * in use is never logged out, and a cookie is re-sealed at most once a day. The login's token
 * lapses on the same terms (see loginLapseCutoff).
 */
export async function renewSession(event: H3Event): Promise<void> {
  const session = event.context.sessions?.[SESSION_COOKIE]
  if (!session?.createdAt || Date.now() - session.createdAt < DAY_MS) return
  await startSession(event, { ...session.data } as SessionData)
}

/**
 * Seals `data` into the session cookie, which lasts MERCURY_SESSION_DAYS from now: a new login's,
 * or one renewed. h3 dates a cookie's expiry, and its seal's, from the creation of its session,
 * and keeps that date through setUserSession and replaceUserSession (a replaced session is read
 * again from the request's cookie): the session of this request is dated now, emptied, then
 * sealed. The runtime config sets no maxAge: every cookie with a user in it is sealed here.
 */
export async function startSession(event: H3Event, data: SessionData): Promise<void> {
  await getUserSession(event)
  const session = event.context.sessions![SESSION_COOKIE]!
  session.createdAt = Date.now()
  session.data = {}
  await setUserSession(event, data, {
    maxAge: mercuryConfig().sessionDays * DAY_MS / 1000,
    // Secure when the request came over TLS (or a proxy trusted to say so).
    cookie: { secure: isSecureRequest(event) },
  })
}
