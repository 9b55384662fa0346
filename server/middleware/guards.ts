// The cross-site request guard and the worker-role guard (utils/request-guards.ts), and the
// methods paths outside /api take; the security headers are already set (plugins/04.security-headers.ts).
export default defineEventHandler((event) => {
  guardRequest(event)
  // Pages, built files, /metrics and the sockets' upgrades are read, never written to: any other
  // method went on to the app's shell and got its HTML with a 200. OPTIONS stays as it was.
  if (!isApiPath(event.path) && !PAGE_METHODS.has(event.method)) {
    setResponseHeader(event, 'allow', 'GET, HEAD')
    throw createError({ statusCode: 405, statusMessage: 'Method Not Allowed', message: `${event.method} is not allowed here: only GET and HEAD` })
  }
  // Nitro serves the built files under /_nuxt/ and answers a missing one with a plain 404; the
  // directories themselves (/_nuxt/, /_nuxt/builds/) fall through to the app's shell, which would
  // then be cached for a year (the route rule of built files). They are not pages either.
  if (isBuildAssetPath(event.path)) {
    setResponseStatus(event, 404, 'Not Found')
    setResponseHeaders(event, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' })
    return 'Not Found'
  }
})

const PAGE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

function isBuildAssetPath(path: string): boolean {
  const dir = useRuntimeConfig().app.buildAssetsDir.replace(/\/$/, '')
  const pathname = path.split('?', 1)[0]!
  return pathname === dir || pathname.startsWith(`${dir}/`)
}
