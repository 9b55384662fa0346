import type { H3Event } from 'h3'
import type { UserSession } from '#auth-utils'

const DAY_MS = 24 * 60 * 60_000
/** runtimeConfig.session.name in nuxt.config.ts. */
const COOKIE_NAME = 'mercury-session'
type SessionData = Omit<UserSession, 'id'>

/** Seals the session of a new login into the cookie, which lasts MERCURY_SESSION_DAYS from now. */
export async function startSession(event: H3Event, data: SessionData): Promise<void> {
  await sealSession(event, data)
}

/**
 * Seals the session again, with a fresh expiry, when its cookie was set more than a day ago: an app
 * in use is never logged out, and a cookie is re-sealed at most once a day. The login's token
 * lapses on the same terms (see loginLapseCutoff).
 */
export async function renewSession(event: H3Event): Promise<void> {
  const session = event.context.sessions?.[COOKIE_NAME]
  if (!session?.createdAt || Date.now() - session.createdAt < DAY_MS) return
  await sealSession(event, { ...session.data } as SessionData)
}

/**
 * h3 dates a cookie's expiry, and its seal's, from the creation of its session, and keeps that
 * date through setUserSession and replaceUserSession (a replaced session is read again from the
 * request's cookie). The session of this request is dated now, emptied, then sealed with `data`.
 * The runtime config sets no maxAge: every cookie with a user in it is sealed here, with
 * MERCURY_SESSION_DAYS.
 */
async function sealSession(event: H3Event, data: SessionData): Promise<void> {
  await getUserSession(event)
  const session = event.context.sessions![COOKIE_NAME]!
  session.createdAt = Date.now()
  session.data = {}
  await setUserSession(event, data, {
    maxAge: mercuryConfig().sessionDays * DAY_MS / 1000,
    // Secure when the request came over TLS (or a proxy trusted to say so).
    cookie: { secure: isSecureRequest(event) },
  })
}
