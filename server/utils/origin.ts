import type { H3Event } from 'h3'

/**
 * Whether an Origin header names this server (or an origin allowed by configuration). Served over
 * TLS, the app's pages are https: a page of the same host over plain http is another origin.
 */
export function originAllowed(origin: string, host: string | undefined, secure: boolean): boolean {
  if (mercuryConfig().allowedOrigins.includes(origin)) return true
  try {
    const url = new URL(origin)
    return url.host === host && (!secure || url.protocol === 'https:')
  }
  catch {
    return false
  }
}

export function requestHost(event: H3Event): string {
  return getRequestHost(event, { xForwardedHost: mercuryConfig().trustProxy })
}

/** originAllowed for a WebSocket upgrade: the host the client asked for, behind a trusted proxy too. */
export function upgradeOriginAllowed(origin: string, request: Request): boolean {
  const trusted = mercuryConfig().trustProxy
  const forwarded = trusted ? request.headers.get('x-forwarded-host')?.split(',')[0]?.trim() : undefined
  const host = forwarded || request.headers.get('host') || undefined
  return originAllowed(origin, host, trusted && request.headers.get('x-forwarded-proto') === 'https')
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
