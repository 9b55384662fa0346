import type { H3Event } from 'h3'

// What every request goes through: the security headers are set by a request hook
// (server/plugins/04.security-headers.ts), before Nitro serves a built file; server/middleware/guards.ts
// runs `guardRequest` for the routes. The publish fast path (server/plugins/08.publish-fast-path.ts),
// without the rest of h3 and its hooks, runs both. A new check added to guardRequest applies to both.

const SECURITY_HEADERS = Object.entries({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
})

/** API answers are data, never documents; the app's HTML gets its own policy (plugins/06.csp.ts). */
const API_POLICY = `default-src 'none'; frame-ancestors 'none'`

/**
 * Security headers on every answer, built files (scripts, the service worker, icons) included. The
 * content security policy of the app pages is set from the page (plugins/06.csp.ts), that of the API
 * here; built files get none: a policy on sw.js would be the service worker's own. Set straight on
 * the response: this runs for every request, REST publishes included.
 */
export function setSecurityHeaders(event: H3Event): void {
  const res = event.node.res
  for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value)
  if (mercuryConfig().trustProxy && getRequestProtocol(event, { xForwardedProto: true }) === 'https') {
    res.setHeader('strict-transport-security', 'max-age=31536000')
  }
  if (isApiPath(event.path)) res.setHeader('content-security-policy', API_POLICY)
}

/**
 * The built files' directory (/_nuxt) and everything under it: Nitro serves the files that are
 * there; anything else under it is a plain 404 (server/error-api.ts), the directories included.
 */
export function isBuildAssetPath(path: string): boolean {
  buildAssetsDir ??= useRuntimeConfig().app.buildAssetsDir.replace(/\/$/, '')
  const pathname = path.split('?', 1)[0]!
  return pathname === buildAssetsDir || pathname.startsWith(`${buildAssetsDir}/`)
}

let buildAssetsDir: string | undefined

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

/** /api itself and everything under it. */
export function isApiPath(path: string): boolean {
  return path.startsWith('/api/') || path === '/api' || path.startsWith('/api?')
}

/**
 * Cross-site request forgery guard: a state-changing request that relies on the session cookie
 * must come from this site. Requests with a bearer token carry no ambient credentials.
 */
function assertSameSite(event: H3Event): void {
  if (SAFE.has(event.method) || !isApiPath(event.path)) return
  if (bearerToken(event)) return
  const origin = getRequestHeader(event, 'origin')
  const crossSite = getRequestHeader(event, 'sec-fetch-site') === 'cross-site'
  if ((origin && !originAllowed(origin, requestHost(event), isSecureRequest(event))) || (crossSite && !origin)) {
    throw createError({ statusCode: 403, statusMessage: 'Forbidden', message: `Requests from ${origin ?? 'another site'} may not use this session` })
  }
}

/** A worker process (MERCURY_ROLE=worker) serves only its health check. */
function assertServesRequests(event: H3Event): void {
  if (mercuryConfig().role !== 'worker') return
  if (event.path.startsWith('/api/health')) return
  throw createError({ statusCode: 503, statusMessage: 'Service Unavailable', message: 'This is a worker process (MERCURY_ROLE=worker): it serves no requests' })
}

/** Every check above, in order; the headers are set before, so that refusals carry them too. */
export function guardRequest(event: H3Event): void {
  assertSameSite(event)
  assertServesRequests(event)
}
