import type { H3Event } from 'h3'

/** Whether an Origin header names this server (or an origin allowed by configuration). */
export function originAllowed(origin: string, host: string | undefined): boolean {
  if (mercuryConfig().allowedOrigins.includes(origin)) return true
  try {
    return new URL(origin).host === host
  }
  catch {
    return false
  }
}

export function requestHost(event: H3Event): string {
  return getRequestHost(event, { xForwardedHost: mercuryConfig().trustProxy })
}

/** The same for a WebSocket upgrade: the host the client asked for. */
export function upgradeHost(request: Request): string | undefined {
  const forwarded = mercuryConfig().trustProxy ? request.headers.get('x-forwarded-host')?.split(',')[0]?.trim() : undefined
  return forwarded || request.headers.get('host') || undefined
}

/**
 * The client's address. Behind a trusted proxy, the one the proxy saw: the last X-Forwarded-For
 * entry (the proxy adds it; entries before it are whatever the client sent). Without it every
 * client would share the proxy's address.
 */
export function clientAddress(event: H3Event): string {
  if (mercuryConfig().trustProxy) {
    const forwarded = getRequestHeader(event, 'x-forwarded-for')?.split(',').at(-1)?.trim()
    if (forwarded) return forwarded
  }
  return getRequestIP(event) ?? 'unknown'
}
