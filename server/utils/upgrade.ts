// Authentication of WebSocket upgrades: a refused upgrade is an HTTP answer with a JSON body.
import { isDatabaseUnavailable } from './unavailable'
import { warnAtMostEveryMinute } from './warn'

const REASONS = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' } as const

export function rejectUpgrade(status: keyof typeof REASONS, message: string): never {
  // No content-type header: crossws (0.3) URL-encodes header values of refusals ("text%2Fplain").
  // A body of bytes gets none (a string would be labelled text/plain). A number is safe: a server
  // that cannot take the connection now says when to retry, as its REST answers do.
  const headers: Record<string, string> = status === 503 ? { 'retry-after': '5' } : {}
  const body = new TextEncoder().encode(JSON.stringify({ statusCode: status, message }))
  throw new Response(body, { status, statusText: REASONS[status], headers })
}

/**
 * `Authorization: Bearer`, else `?token=`, as on every Mercury socket. The header wins when both
 * are given, as it wins over the session cookie on REST.
 */
export function upgradeToken(request: Request): string | null {
  return bearerOf(request.headers.get('authorization')) ?? (new URL(request.url).searchParams.get('token') || null)
}

/** The user in the session cookie of an upgrade request (with the login token the session rests on), or null (no cookie, a bad one, or a session that ended). */
export async function upgradeSessionUser(request: Request): Promise<{ id: string, tokenId?: string } | null> {
  if (!hasSessionCookie(request.headers.get('cookie'))) return null
  try {
    const session = await getUserSession(request as unknown as Parameters<typeof getUserSession>[0])
    return await userFromSession(session.user?.id, session.tokenId)
  }
  catch {
    return null
  }
}

/** Runs an upgrade check; anything but a deliberate refusal becomes a 503, never a hung socket. */
export async function guardUpgrade(check: () => Promise<void>): Promise<void> {
  try {
    await check()
  }
  catch (error) {
    if (error instanceof Response) throw error
    // An outage is expected, not a bug: one line a minute, not a stack trace per refusal.
    if (isDatabaseUnavailable(error)) {
      warnAtMostEveryMinute('WebSocket upgrades refused (503), the database is unavailable', (error as Error).message)
      rejectUpgrade(503, 'The database is unavailable; retry shortly')
    }
    console.error('mercury: WebSocket upgrade failed:', error)
    rejectUpgrade(503, 'The server cannot take connections right now; retry shortly')
  }
}
