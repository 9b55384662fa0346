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
