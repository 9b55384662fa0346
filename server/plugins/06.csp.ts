import { createHash } from 'node:crypto'

// A content security policy for the app's HTML: scripts only from this origin, plus the few
// inline scripts Nuxt writes into the page, allowed by their hashes (computed from the page
// itself, so they follow every build). Sockets go to this origin only; the service worker and
// the web manifest come from it too.
const INLINE_SCRIPT = /<script(?![^>]*\bsrc=)(?![^>]*type="application\/json")([^>]*)>([\s\S]*?)<\/script>/g

export function contentSecurityPolicy(html: string): string {
  const hashes = new Set<string>()
  for (const [, , body] of html.matchAll(INLINE_SCRIPT)) {
    hashes.add(`'sha256-${createHash('sha256').update(body!).digest('base64')}'`)
  }
  return [
    `default-src 'self'`,
    `script-src 'self' ${[...hashes].join(' ')}`.trim(),
    `style-src 'self' 'unsafe-inline'`,
    `img-src 'self' data: blob:`,
    `font-src 'self' data:`,
    // 'self' covers ws:/wss: to this host too (CSP Level 3: every current browser).
    `connect-src 'self'`,
    `worker-src 'self'`,
    `manifest-src 'self'`,
    `frame-ancestors 'none'`,
    `base-uri 'self'`,
    `form-action 'self'`,
    `object-src 'none'`,
  ].join('; ')
}

export default defineNitroPlugin((nitro) => {
  nitro.hooks.hook('render:response', (response) => {
    // Nuxt names itself on every page: nothing a client needs, something an attacker may use.
    if (response.headers) delete response.headers['x-powered-by']
    if (typeof response.body !== 'string' || !response.body.includes('<html')) return
    response.headers = { ...response.headers, 'content-security-policy': contentSecurityPolicy(response.body) }
  })
})
