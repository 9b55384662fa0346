// Security headers on every answer. The content security policy of the app pages is set by the
// PWA's configuration; these apply everywhere.
export default defineEventHandler((event) => {
  setResponseHeaders(event, {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
    ...(mercuryConfig().trustProxy && getRequestProtocol(event, { xForwardedProto: true }) === 'https'
      ? { 'strict-transport-security': 'max-age=31536000' }
      : {}),
    // API answers are data, never documents; the app's HTML gets its own policy (plugins/06.csp.ts).
    ...(event.path.startsWith('/api/') ? { 'content-security-policy': `default-src 'none'; frame-ancestors 'none'` } : {}),
  })
})
